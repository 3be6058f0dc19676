// Print a corpus as one text (documents joined exactly as `lm train --tokenizer char` joins them), for peers.
import { loadCorpusDocuments } from '../src/data/corpus-source.js';

const spec = process.argv[2] ?? 'moby-dick';
const docs = await loadCorpusDocuments(spec);
process.stdout.write(docs.map((d) => d.text).join('\n\n'));
