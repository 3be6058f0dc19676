// `tessera tokenize` (text -> ids as JSON, or back with --decode) and `tessera tokenizer train|info`.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { loadTokenizer, trainBpe, trainCharTokenizer } from '../../tokenizer/index.js';

function readInput(opts: { file?: string; text?: string }): string {
  if (opts.text !== undefined && opts.file !== undefined) throw new Error('give either --text or --file, not both');
  if (opts.text !== undefined) return opts.text;
  if (opts.file === undefined) throw new Error('give --text T or --file F (use --file - for stdin)');
  try {
    return readFileSync(opts.file === '-' ? 0 : opts.file, 'utf8');
  } catch (err) {
    throw new Error(`${opts.file}: cannot read: ${(err as Error).message}`);
  }
}

function parseIds(s: string, where: string): number[] {
  let v: unknown;
  try {
    v = JSON.parse(s);
  } catch (err) {
    throw new Error(`${where}: expected a JSON array of token ids: ${(err as Error).message}`);
  }
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'number' || !Number.isInteger(x))) throw new Error(`${where}: expected a JSON array of integer token ids`);
  return v as number[];
}

function positiveInt(name: string, s: string): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, got ${JSON.stringify(s)}`);
  return n;
}

export function registerTokenize(program: Command): void {
  program
    .command('tokenize')
    .description('encode text to token ids (printed as a JSON array), or decode ids with --decode')
    .option('-t, --tokenizer <spec>', 'gpt2 | bytes | bytes+eot | a tokenizer directory or tokenizer.json', 'gpt2')
    .option('-f, --file <path>', 'read the input from a file ("-" = stdin)')
    .option('--text <text>', 'the input text')
    .option('--allowed-special <mode>', 'all: <|endoftext|> etc. become special ids; none: encoded as plain text', 'all')
    .option('--decode', 'the input is a JSON array of ids; print the decoded text')
    .action((opts: { tokenizer: string; file?: string; text?: string; allowedSpecial: string; decode?: boolean }) => {
      if (opts.allowedSpecial !== 'all' && opts.allowedSpecial !== 'none') throw new Error(`--allowed-special must be "all" or "none", got ${JSON.stringify(opts.allowedSpecial)}`);
      const tok = loadTokenizer(opts.tokenizer);
      const input = readInput(opts);
      if (opts.decode) {
        process.stdout.write(tok.decode(parseIds(input, opts.file ?? '--text')));
        return;
      }
      process.stdout.write(`${JSON.stringify(tok.encode(input, { allowedSpecial: opts.allowedSpecial }))}\n`);
    });

  const tk = program.command('tokenizer').description('train or inspect tokenizers');
  tk.command('train')
    .description('train a byte-level BPE (GPT-2 scheme) or a character-level tokenizer on text files and save it')
    .requiredOption('--corpus-file <paths...>', 'training text files (each one document)')
    .requiredOption('-o, --out <dir>', 'directory to write vocab.json + merges.txt (bpe) or tokenizer.json (char)')
    .option('--type <type>', 'bpe | char', 'bpe')
    .option('--vocab-size <n>', 'total vocabulary size for bpe (256 bytes + merges + special tokens)')
    .option('--special <tokens...>', 'special tokens appended after the merges (bpe)', ['<|endoftext|>'])
    .option('--min-frequency <n>', 'stop merging when the best pair is rarer than this (bpe)', '2')
    .option('--eot', 'add <|endoftext|> to a char tokenizer')
    .option('-q, --quiet', 'no progress on stderr')
    .action((opts: { corpusFile: string[]; out: string; type: string; vocabSize?: string; special: string[]; minFrequency: string; eot?: boolean; quiet?: boolean }) => {
      const docs = opts.corpusFile.map((f) => readInput({ file: f }));
      if (opts.type === 'char') {
        const t = trainCharTokenizer(docs.join(''), { eot: opts.eot });
        t.save(opts.out);
        process.stdout.write(`${JSON.stringify({ id: t.id, vocabSize: t.vocabSize, eotId: t.eotId ?? null, out: opts.out })}\n`);
        return;
      }
      if (opts.type !== 'bpe') throw new Error(`--type must be "bpe" or "char", got ${JSON.stringify(opts.type)}`);
      if (opts.vocabSize === undefined) throw new Error('--vocab-size is required for --type bpe');
      const vocabSize = positiveInt('--vocab-size', opts.vocabSize);
      const t0 = Date.now();
      const t = trainBpe(docs, vocabSize, {
        specialTokens: opts.special,
        minFrequency: positiveInt('--min-frequency', opts.minFrequency),
        progressEvery: 500,
        onProgress: opts.quiet
          ? undefined
          : (p) => {
              const secs = ((Date.now() - t0) / 1000).toFixed(1);
              if (p.phase === 'count') process.stderr.write(`[${secs}s] counted ${p.docs} docs, ${p.words} distinct words\n`);
              else process.stderr.write(`[${secs}s] ${p.phase === 'done' ? 'done: ' : ''}${p.merges}/${p.targetMerges} merges${p.lastMerge ? `, last ${JSON.stringify(p.lastMerge.join(' '))} x${p.lastCount}` : ''}\n`);
            },
      });
      t.save(opts.out);
      if (t.vocabSize < vocabSize) process.stderr.write(`note: the corpus ran out of pairs occurring >= ${opts.minFrequency} times; vocabulary is ${t.vocabSize}, not ${vocabSize}\n`);
      process.stdout.write(`${JSON.stringify({ id: t.id, vocabSize: t.vocabSize, merges: t.merges.length, eotId: t.eotId ?? null, out: opts.out })}\n`);
    });

  tk.command('info')
    .description('print a tokenizer\'s id, vocabulary size and end-of-text id as JSON')
    .argument('<spec>', 'gpt2 | bytes | bytes+eot | a tokenizer directory or tokenizer.json')
    .action((spec: string) => {
      const t = loadTokenizer(spec);
      process.stdout.write(`${JSON.stringify({ id: t.id, vocabSize: t.vocabSize, eotId: t.eotId ?? null })}\n`);
    });
}
