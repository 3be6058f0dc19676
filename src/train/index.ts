// Public surface of the trainer: one resumable training loop for any module and loss.
export * from './trainer.js';
export * from './checkpoint-io.js';
export * from './checkpoint-dir.js';
