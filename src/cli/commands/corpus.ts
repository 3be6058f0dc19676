// `tessera corpus index|count|locate|longest|trace|next|verify|info`: build a suffix-array index over a training
// corpus and query it (exact counts, k-eidetic document counts, tracing text back to its training documents).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { Presets, SingleBar } from 'cli-progress';
import { openCorpus } from '../../data/corpora.js';
import { loadTokenizer } from '../../tokenizer/index.js';
import type { Tokenizer } from '../../tokenizer/types.js';
import { buildCorpusIndex, type BuildProgress } from '../../corpus/build.js';
import { CorpusIndex } from '../../corpus/reader.js';
import { IndexError, MANIFEST_NAME, type IndexManifest } from '../../corpus/format.js';

function positiveInt(name: string, s: string): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, got ${JSON.stringify(s)}`);
  return n;
}

function nonNegativeInt(name: string, s: string): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got ${JSON.stringify(s)}`);
  return n;
}

function print(json: boolean, obj: unknown, human: () => string): void {
  process.stdout.write(json ? `${JSON.stringify(obj)}\n` : `${human()}\n`);
}

/** The tokenizer to query an index with: --tokenizer, else the one recorded in (or saved with) the index. */
export function queryTokenizer(dir: string, spec: string | undefined): Tokenizer {
  if (spec !== undefined) return loadTokenizer(spec);
  const mpath = join(dir, MANIFEST_NAME);
  if (!existsSync(mpath)) CorpusIndex.open(dir); // throws the right "missing" error
  let m: IndexManifest;
  try {
    m = JSON.parse(readFileSync(mpath, 'utf8')) as IndexManifest;
  } catch (err) {
    throw new IndexError(mpath, `unreadable manifest (${(err as Error).message})`);
  }
  const id = m.tokenizer?.id;
  if (id === 'gpt2' || id === 'bytes' || id === 'bytes+eot') return loadTokenizer(id);
  const saved = join(dir, 'tokenizer');
  if (existsSync(saved)) return loadTokenizer(saved);
  throw new IndexError(mpath, `built with tokenizer ${JSON.stringify(id)}, which is not built in and not saved with the index; pass --tokenizer`);
}

interface QueryOpts {
  index: string;
  tokenizer?: string;
  file?: string;
  ids?: string;
  json?: boolean;
  verify?: string;
}

function queryInput(text: string | undefined, opts: QueryOpts): string | number[] {
  const given = [text !== undefined, opts.file !== undefined, opts.ids !== undefined].filter(Boolean).length;
  if (given === 0) throw new Error('give the query TEXT, --file PATH ("-" = stdin) or --ids "1,2,3"');
  if (given > 1) throw new Error('give only one of TEXT, --file and --ids');
  if (opts.ids !== undefined) {
    const s = opts.ids.trim();
    if (s === '') return [];
    const ids = (s.startsWith('[') ? (JSON.parse(s) as unknown[]) : s.split(',')).map((x) => Number(typeof x === 'string' ? x.trim() : x));
    if (ids.some((x) => !Number.isInteger(x) || x < 0)) throw new Error(`--ids: expected comma-separated non-negative integers, got ${JSON.stringify(opts.ids)}`);
    return ids;
  }
  if (opts.file !== undefined) {
    try {
      return readFileSync(opts.file === '-' ? 0 : opts.file, 'utf8');
    } catch (err) {
      throw new Error(`${opts.file}: cannot read: ${(err as Error).message}`);
    }
  }
  if (text === '-') return readFileSync(0, 'utf8');
  return text!;
}

function openForQuery(opts: QueryOpts): CorpusIndex {
  const tok = queryTokenizer(opts.index, opts.tokenizer);
  const verify = opts.verify ?? 'auto';
  if (verify !== 'auto' && verify !== 'full' && verify !== 'quick') throw new Error(`--verify must be auto, full or quick, got ${JSON.stringify(verify)}`);
  return CorpusIndex.open(opts.index, { tokenizer: tok, verify });
}

function addQueryOptions(cmd: Command): Command {
  return cmd
    .requiredOption('--index <dir>', 'index directory (built by `tessera corpus index`)')
    .option('-t, --tokenizer <spec>', 'tokenizer (default: the one the index was built with; a different one is refused)')
    .option('-f, --file <path>', 'read the query text from a file ("-" = stdin)')
    .option('--ids <list>', 'query with token ids instead of text: "1,2,3" or a JSON array')
    .option('--verify <mode>', 'checksums at open: auto (full if the index is at most 256 MiB), full, quick', 'auto')
    .option('--json', 'print one JSON object');
}

function oneLine(s: string): string {
  return JSON.stringify(s).slice(1, -1);
}

function makeProgress(enabled: boolean): { onProgress: (p: BuildProgress) => void; stop: () => void } {
  if (!enabled || !process.stderr.isTTY) return { onProgress: () => {}, stop: () => {} };
  const bar = new SingleBar(
    {
      format: '{phase} [{bar}] {percentage}% | {value}/{total} {unit} | {stage} | {duration_formatted} (ETA {eta_formatted})',
      stream: process.stderr,
      hideCursor: true,
      etaBuffer: 50,
    },
    Presets.shades_classic,
  );
  let phase = '';
  let started = false;
  const inFlight = new Map<number, number>();
  const onProgress = (p: BuildProgress) => {
    if (p.phase === 'tokenize') {
      if (phase !== 'tokenize') {
        phase = 'tokenize';
        bar.start(p.totalDocs ?? 0, 0, { phase: 'tokenize', unit: 'docs', stage: '0 tokens' });
        started = true;
      }
      if (p.totalDocs === undefined) bar.setTotal(Math.max(p.docs, 1));
      bar.update(p.docs, { stage: `${p.tokens.toLocaleString('en-US')} tokens` });
    } else if (p.phase === 'plan') {
      if (started) bar.stop();
      phase = 'index';
      bar.start(p.tokens, 0, { phase: 'index', unit: 'tokens', stage: `${p.shards} shard(s)${p.resumed ? `, ${p.resumed} resumed` : ''}` });
      started = true;
    } else if (p.phase === 'shard') {
      // Finished shards plus the estimated part of the shards in flight.
      if (p.stage === 'done') inFlight.delete(p.shard);
      else inFlight.set(p.shard, p.fraction * p.shardTokens);
      let partial = 0;
      for (const v of inFlight.values()) partial += v;
      bar.update(Math.round(p.tokensDone + partial), { stage: `shard ${p.shard + 1}/${p.shards}: ${p.stage}` });
    } else if (p.phase === 'done') {
      if (started) bar.stop();
      started = false;
    }
  };
  return {
    onProgress,
    stop: () => {
      if (started) bar.stop();
    },
  };
}

export function registerCorpus(program: Command): void {
  const corpus = program.command('corpus').description('suffix-array index over a training corpus: exact counts, k-eidetic document counts, tracing text to its sources');

  corpus
    .command('index')
    .description('tokenize a corpus and build its suffix-array index')
    .requiredOption('--corpus <spec>', 'moby-dick | sotu | spam-assassin | a text file | a folder | FILE.jsonl:FIELD')
    .requiredOption('-t, --tokenizer <spec>', 'gpt2 | bytes | bytes+eot | a tokenizer directory or tokenizer.json')
    .requiredOption('--out <dir>', 'index directory to create')
    .option('--field <name>', 'JSONL field holding the text (default "text", or FILE.jsonl:FIELD)')
    .option('--shard-tokens <n>', 'largest shard in tokens (default 134217728 = 2^27)')
    .option('--jobs <n>', 'shards built at once, each in a worker thread (default: min(2, cores))')
    .option('--skip-empty', 'drop empty documents instead of refusing the corpus')
    .option('--force', 'replace an existing index or partial build in --out')
    .option('--no-progress', 'no progress bar')
    .option('--json', 'print the build report as one JSON object')
    .action(
      async (opts: { corpus: string; tokenizer: string; out: string; field?: string; shardTokens?: string; jobs?: string; skipEmpty?: boolean; force?: boolean; progress: boolean; json?: boolean }) => {
        const tok = loadTokenizer(opts.tokenizer);
        const src = openCorpus(opts.corpus, { field: opts.field, emptyDocuments: opts.skipEmpty ? 'skip' : 'error' });
        const prog = makeProgress(opts.progress);
        let rep;
        try {
          rep = await buildCorpusIndex(src, tok, {
            out: opts.out,
            corpus: opts.corpus,
            maxShardTokens: opts.shardTokens !== undefined ? positiveInt('--shard-tokens', opts.shardTokens) : undefined,
            jobs: opts.jobs !== undefined ? positiveInt('--jobs', opts.jobs) : undefined,
            force: opts.force,
            skipEmpty: opts.skipEmpty,
            onProgress: prog.onProgress,
          });
        } finally {
          prog.stop();
        }
        const m = rep.manifest;
        const report = {
          out: opts.out,
          corpus: opts.corpus,
          tokenizer: m.tokenizer.id,
          tokens: m.totalTokens,
          docs: m.totalDocs,
          shards: m.shards.length,
          resumedShards: rep.resumedShards,
          skippedFiles: src.skipped.length,
          seconds: +rep.seconds.toFixed(3),
          tokenizeSeconds: +rep.spoolSeconds.toFixed(3),
          indexSeconds: +rep.shardSeconds.toFixed(3),
          tokensPerSecond: Math.round(m.totalTokens / rep.seconds),
          indexBytes: rep.indexBytes,
          bytesPerToken: +(rep.indexBytes / m.totalTokens).toFixed(3),
          peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
        };
        print(opts.json ?? false, report, () =>
          [
            `indexed ${m.totalTokens.toLocaleString('en-US')} tokens in ${m.totalDocs.toLocaleString('en-US')} documents (${m.shards.length} shard(s)) into ${opts.out}`,
            `  ${report.seconds} s (tokenize ${report.tokenizeSeconds} s, index ${report.indexSeconds} s), ${report.bytesPerToken} bytes/token, peak RSS ${report.peakRssMiB} MiB`,
            ...(src.skipped.length ? [`  skipped ${src.skipped.length} file(s): ${src.skipped.slice(0, 5).map((s) => `${s.path} (${s.reason})`).join(', ')}`] : []),
            ...(rep.resumedShards.length ? [`  resumed: shard(s) ${rep.resumedShards.join(', ')} were already built`] : []),
          ].join('\n'),
        );
      },
    );

  addQueryOptions(corpus.command('count').description('occurrences of TEXT and the number of distinct documents containing it (k of k-eidetic)').argument('[text]', 'query text ("-" = stdin)')).action(
    (text: string | undefined, opts: QueryOpts) => {
      const idx = openForQuery(opts);
      try {
        const r = idx.count(queryInput(text, opts));
        print(opts.json ?? false, r, () => `count ${r.count}  docs ${r.docs}`);
      } finally {
        idx.close();
      }
    },
  );

  addQueryOptions(corpus.command('locate').description('documents, offsets and context of the occurrences of TEXT').argument('[text]', 'query text ("-" = stdin)'))
    .option('--limit <n>', 'most hits to show', '10')
    .option('--context <n>', 'tokens of context on each side', '16')
    .action((text: string | undefined, opts: QueryOpts & { limit: string; context: string }) => {
      const idx = openForQuery(opts);
      try {
        const r = idx.locate(queryInput(text, opts), { limit: nonNegativeInt('--limit', opts.limit), context: nonNegativeInt('--context', opts.context) });
        print(opts.json ?? false, r, () =>
          [
            `count ${r.count}  docs ${r.docs}${r.hits.length < r.count ? `  (showing ${r.hits.length})` : ''}`,
            ...r.hits.map((h) => `${h.doc} @${h.offset}: ${h.snippet ? `…${oneLine(h.snippet.before)}[${oneLine(h.snippet.match)}]${oneLine(h.snippet.after)}…` : ''}`),
          ].join('\n'),
        );
      } finally {
        idx.close();
      }
    });

  addQueryOptions(corpus.command('longest').description("for every token of TEXT, the longest span ending there that occurs in the corpus (infini-gram's suffix lengths)").argument('[text]', 'query text ("-" = stdin)')).action(
    (text: string | undefined, opts: QueryOpts) => {
      const idx = openForQuery(opts);
      try {
        const r = idx.longest(queryInput(text, opts));
        print(opts.json ?? false, r, () => r.tokens.map((t, i) => `${String(i).padStart(4)} ${String(r.lengths[i]).padStart(4)}  ${oneLine(idx.decode([t]) ?? String(t))}`).join('\n'));
      } finally {
        idx.close();
      }
    },
  );

  addQueryOptions(corpus.command('trace').description('the maximal spans of TEXT that occur verbatim in the corpus, with counts and top documents').argument('[text]', 'query text ("-" = stdin)'))
    .option('--min-tokens <m>', 'shortest span to report', '8')
    .option('--top <k>', 'documents to list per span', '5')
    .action((text: string | undefined, opts: QueryOpts & { minTokens: string; top: string }) => {
      const idx = openForQuery(opts);
      try {
        const r = idx.trace(queryInput(text, opts), { minTokens: positiveInt('--min-tokens', opts.minTokens), topDocs: nonNegativeInt('--top', opts.top) });
        print(opts.json ?? false, r, () =>
          r.spans.length === 0
            ? `no span of ${r.minTokens}+ tokens (of ${r.tokens}) occurs in the corpus`
            : r.spans
                .map(
                  (s) =>
                    `[${s.start}, ${s.end}) ${s.length} tokens  count ${s.count}  docs ${s.docs}  "${oneLine(s.text ?? '')}"\n` +
                    s.topDocs.map((d) => `    ${d.doc} ×${d.count} @${d.offset}`).join('\n'),
                )
                .join('\n'),
        );
      } finally {
        idx.close();
      }
    });

  addQueryOptions(corpus.command('next').description('counts of each token that follows TEXT in the corpus (∞-gram estimate)').argument('[text]', 'query text ("-" = stdin)'))
    .option('--limit <n>', 'most tokens to list', '20')
    .option('--backoff', 'drop tokens from the front until the context has continuations (∞-gram backoff)')
    .action((text: string | undefined, opts: QueryOpts & { limit: string; backoff?: boolean }) => {
      const idx = openForQuery(opts);
      try {
        const r = idx.next(queryInput(text, opts), { limit: nonNegativeInt('--limit', opts.limit), backoff: opts.backoff });
        print(opts.json ?? false, r, () =>
          [
            `count ${r.count}  continued ${r.continued}${r.backoff ? `  (backed off ${r.backoff} token(s))` : ''}`,
            ...r.next.map((n) => `${String(n.count).padStart(8)}  ${n.prob.toFixed(4)}  ${oneLine(n.text ?? String(n.token))}`),
          ].join('\n'),
        );
      } finally {
        idx.close();
      }
    });

  corpus
    .command('verify')
    .description('check every index file: headers, sizes and full checksums')
    .requiredOption('--index <dir>', 'index directory')
    .option('--json', 'print one JSON object')
    .action((opts: { index: string; json?: boolean }) => {
      const idx = CorpusIndex.open(opts.index, { verify: 'full' });
      idx.close();
      const m = idx.manifest;
      print(opts.json ?? false, { ok: true, index: opts.index, shards: m.shards.length, tokens: m.totalTokens }, () => `ok: ${opts.index} (${m.shards.length} shard(s), ${m.totalTokens} tokens)`);
    });

  corpus
    .command('info')
    .description('what an index holds')
    .requiredOption('--index <dir>', 'index directory')
    .option('--json', 'print one JSON object')
    .action((opts: { index: string; json?: boolean }) => {
      const idx = CorpusIndex.open(opts.index, { verify: 'quick' });
      idx.close();
      const m = idx.manifest;
      const info = { corpus: m.corpus, tokenizer: m.tokenizer, tokenWidth: m.tokenWidth, tokens: m.totalTokens, docs: m.totalDocs, shards: m.shards, created: m.created, buildId: m.buildId };
      print(opts.json ?? false, info, () =>
        [
          `corpus ${m.corpus || '(unnamed)'}: ${m.totalTokens} tokens in ${m.totalDocs} documents, ${m.shards.length} shard(s)`,
          `tokenizer ${m.tokenizer.id} (vocabulary ${m.tokenizer.vocabSize}, ${m.tokenWidth}-byte token ids), built ${m.created}`,
        ].join('\n'),
      );
    });
}
