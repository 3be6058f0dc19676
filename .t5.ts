import { gpt2Tokenizer } from './src/tokenizer/gpt2.js';
import { formatMergesTxt } from './src/tokenizer/bpe-format.js';
const t = gpt2Tokenizer();
const m = formatMergesTxt(t.tables()).split('\n');
console.log(m.slice(0, 25).join(' | '));
console.log(m.slice(-6).join(' | '));
