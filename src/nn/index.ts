// Public surface of the module library.
export * from './init.js';
export * from './module.js';
export * from './layers.js';
export * from './train.js';
export * from './export.js';
