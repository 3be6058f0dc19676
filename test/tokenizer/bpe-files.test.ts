// Loading byte-level BPE files: GPT-2 vocab.json + merges.txt, Hugging Face tokenizer.json, and malformed inputs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getEncoding } from 'js-tiktoken';
import { gpt2Tokenizer, loadTokenizer, trainBpe } from '../../src/tokenizer/index.js';
import { firstDiff, spamSample, variedText } from './varied-text.js';

const ref = getEncoding('gpt2');
const gpt2 = gpt2Tokenizer();
const root = mkdtempSync(join(tmpdir(), 'tessera-bpe-files-'));
process.on('exit', () => rmSync(root, { recursive: true, force: true }));

function assertSame(actual: number[], expected: number[], what: string): void {
  if (actual.length !== expected.length || actual.some((x, i) => x !== expected[i])) assert.fail(`${what}: ${firstDiff(actual, expected)}`);
}

const gpt2Dir = join(root, 'gpt2');
gpt2.save(gpt2Dir);
const vocabJson = JSON.parse(readFileSync(join(gpt2Dir, 'vocab.json'), 'utf8')) as Record<string, number>;
const mergeLines = readFileSync(join(gpt2Dir, 'merges.txt'), 'utf8').split('\n').filter((l) => l && !l.startsWith('#version'));

test('gpt2 saves as GPT-2 vocab.json + merges.txt (50257 ids, 50000 merges)', () => {
  assert.equal(Object.keys(vocabJson).length, 50257);
  assert.equal(vocabJson['<|endoftext|>'], 50256);
  assert.equal(vocabJson['!'], 0);
  assert.equal(vocabJson['Ġthe'], 262);
  assert.equal(mergeLines.length, 50000);
  assert.deepEqual(mergeLines.slice(0, 3), ['Ġ t', 'Ġ a', 'h e']);
  assert.equal(mergeLines[mergeLines.length - 1], 'Ġg azed');
});

test('vocab.json + merges.txt loader: same encodings as js-tiktoken, recognised as gpt2', () => {
  const loaded = loadTokenizer(gpt2Dir);
  assert.equal(loaded.id, 'gpt2');
  assert.equal(loaded.vocabSize, 50257);
  assert.equal(loaded.eotId, 50256);
  const text = variedText(200_000, 21) + spamSample(60, 1).join('\n');
  assertSame(loaded.encode(text), ref.encode(text, 'all'), 'vocab+merges loader');
  assert.equal(loaded.decode(loaded.encode(text)), text);
});

function hfJson(mergesForm: 'string' | 'array'): object {
  const vocab = { ...vocabJson };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [{ id: 50256, content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: true, special: true }],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      vocab,
      merges: mergesForm === 'string' ? mergeLines : mergeLines.map((l) => l.split(' ')),
    },
  };
}

test('Hugging Face tokenizer.json loader (merges as "a b" and as [a, b]) matches the vocab+merges loader', () => {
  const text = variedText(150_000, 33);
  const expected = ref.encode(text, 'all');
  for (const form of ['string', 'array'] as const) {
    const dir = join(root, `hf-${form}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(hfJson(form)));
    for (const spec of [dir, join(dir, 'tokenizer.json')]) {
      const t = loadTokenizer(spec);
      assert.equal(t.id, 'gpt2', `${form} ${spec}`);
      assert.equal(t.eotId, 50256);
      assertSame(t.encode(text), expected, `HF ${form} merges via ${spec}`);
      assertSame(t.encode(text, { allowedSpecial: 'none' }), ref.encode(text, [], []), `HF ${form} allowedSpecial none`);
    }
  }
});

test('Hugging Face loader on a trained BPE with extra added tokens', () => {
  const bpe = trainBpe(spamSample(100), 400, { specialTokens: ['<|endoftext|>', '<|pad|>'] });
  const dir = join(root, 'trained');
  bpe.save(dir);
  const vocab = JSON.parse(readFileSync(join(dir, 'vocab.json'), 'utf8'));
  const merges = readFileSync(join(dir, 'merges.txt'), 'utf8').split('\n').filter((l) => l && !l.startsWith('#'));
  const hf = {
    added_tokens: [{ id: 398, content: '<|endoftext|>', special: true }, { id: 399, content: '<|pad|>', special: true }],
    normalizer: null,
    pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'ByteLevel', add_prefix_space: false, use_regex: true }] },
    model: { type: 'BPE', vocab, merges: merges.map((l) => l.split(' ')) },
  };
  const file = join(root, 'trained-hf.json');
  writeFileSync(file, JSON.stringify(hf));
  const t = loadTokenizer(file);
  assert.equal(t.id, bpe.id);
  const text = `${spamSample(50, 3).slice(0, 20).join('<|pad|>')}<|endoftext|>`;
  assertSame(t.encode(text), bpe.encode(text), 'HF trained');
  assert.equal(t.encode('<|pad|>')[0], 399);
});

/** Write files into a fresh directory and return it. */
function dirWith(name: string, files: Record<string, string>): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  for (const [f, content] of Object.entries(files)) writeFileSync(join(dir, f), content);
  return dir;
}

const bytesVocab = (): Record<string, number> => Object.fromEntries(Object.entries(vocabJson).filter(([, id]) => id < 256));

test('malformed tokenizer files are rejected with messages naming the file and the problem', () => {
  const okVocab = bytesVocab();
  const cases: Array<[string, () => unknown, RegExp]> = [
    ['no such path', () => loadTokenizer(join(root, 'nope')), /nope.*no such file or directory/],
    ['empty dir', () => loadTokenizer(dirWith('empty', {})), /empty: no tokenizer files found/],
    ['vocab without merges', () => loadTokenizer(dirWith('only-vocab', { 'vocab.json': '{}' })), /only-vocab: has vocab\.json but no merges\.txt/],
    ['bad JSON', () => loadTokenizer(dirWith('badjson', { 'vocab.json': '{"a": 1,', 'merges.txt': '' })), /badjson\/vocab\.json: invalid JSON/],
    ['vocab is an array', () => loadTokenizer(dirWith('arr', { 'vocab.json': '["a"]', 'merges.txt': '' })), /arr\/vocab\.json: expected a JSON object mapping token strings to integer ids, got an array/],
    ['non-integer id', () => loadTokenizer(dirWith('nonint', { 'vocab.json': JSON.stringify({ ...okVocab, x: 1.5 }), 'merges.txt': '' })), /nonint\/vocab\.json: token "x" has id number 1\.5/],
    ['string id', () => loadTokenizer(dirWith('strid', { 'vocab.json': JSON.stringify({ ...okVocab, x: '7' }), 'merges.txt': '' })), /token "x" has id string "7"/],
    ['duplicate id', () => loadTokenizer(dirWith('dup', { 'vocab.json': JSON.stringify({ ...okVocab, hello: 3 }), 'merges.txt': '' })), /id 3 is used by both/],
    ['id gap', () => loadTokenizer(dirWith('gap', { 'vocab.json': JSON.stringify({ ...okVocab, hi: 300 }), 'merges.txt': '' })), /id 300 of "hi" is out of range; ids must be 0\.\.256/],
    ['merge line with 3 tokens', () => loadTokenizer(dirWith('m3', { 'vocab.json': JSON.stringify(okVocab), 'merges.txt': '#version: 0.2\na b c\n' })), /m3\/merges\.txt:2: expected two tokens separated by one space, got "a b c"/],
    ['merge of unknown token', () => loadTokenizer(dirWith('munk', { 'vocab.json': JSON.stringify(okVocab), 'merges.txt': 'a b\n' })), /merge #1 \("a" "b"\) refers to "ab", which is not in the vocabulary/],
    ['missing byte token', () => loadTokenizer(dirWith('nobyte', { 'vocab.json': JSON.stringify({ a: 0, b: 1, ab: 2 }), 'merges.txt': 'a b\n' })), /nobyte.*lacks the single-byte token for byte 0x00/],
    ['not byte alphabet', () => loadTokenizer(dirWith('alpha', { 'vocab.json': JSON.stringify({ ...okVocab, '€': 256 }), 'merges.txt': '' })), /token "€" \(id 256\) is not spelled in the byte-level alphabet/],
    ['HF WordPiece', () => loadTokenizer(dirWith('wp', { 'tokenizer.json': JSON.stringify({ model: { type: 'WordPiece', vocab: {} } }) })), /wp\/tokenizer\.json: model\.type is "WordPiece"; only byte-level "BPE" is supported/],
    ['HF whitespace pre-tokenizer', () => loadTokenizer(dirWith('ws', { 'tokenizer.json': JSON.stringify({ pre_tokenizer: { type: 'Whitespace' }, model: { type: 'BPE', vocab: okVocab, merges: [] } }) })), /ws\/tokenizer\.json: pre_tokenizer "Whitespace" is not supported/],
    ['HF merges not array', () => loadTokenizer(dirWith('hfm', { 'tokenizer.json': JSON.stringify({ pre_tokenizer: { type: 'ByteLevel' }, model: { type: 'BPE', vocab: okVocab, merges: 'a b' } }) })), /model\.merges: expected an array of merges/],
    ['HF bad merge entry', () => loadTokenizer(dirWith('hfm2', { 'tokenizer.json': JSON.stringify({ pre_tokenizer: { type: 'ByteLevel' }, model: { type: 'BPE', vocab: okVocab, merges: [['a']] } }) })), /model\.merges\[0\]: expected "left right" or \["left", "right"\]/],
    ['HF bad added token', () => loadTokenizer(dirWith('hfa', { 'tokenizer.json': JSON.stringify({ pre_tokenizer: { type: 'ByteLevel' }, model: { type: 'BPE', vocab: okVocab, merges: [] }, added_tokens: [{ content: 'x' }] }) })), /added_tokens\[0\] must be/],
    ['HF normalizer', () => loadTokenizer(dirWith('hfn', { 'tokenizer.json': JSON.stringify({ normalizer: { type: 'NFC' }, pre_tokenizer: { type: 'ByteLevel' }, model: { type: 'BPE', vocab: okVocab, merges: [] } }) })), /normalizer "NFC" is not supported/],
    ['unknown JSON', () => loadTokenizer(dirWith('unk', { 'tokenizer.json': '{"hello": 1}' })), /unk\/tokenizer\.json: not a tokenizer file/],
    ['char bad chars', () => loadTokenizer(dirWith('cbad', { 'tokenizer.json': JSON.stringify({ type: 'char', chars: ['a', 'bc'] }) })), /cbad\/tokenizer\.json: char tokenizer: chars\[1\] = "bc" is not a single code point/],
    ['char duplicate', () => loadTokenizer(dirWith('cdup', { 'tokenizer.json': JSON.stringify({ type: 'char', chars: ['a', 'a'] }) })), /chars\[1\] = "a" is a duplicate/],
    ['char no chars', () => loadTokenizer(dirWith('cnone', { 'tokenizer.json': JSON.stringify({ type: 'char' }) })), /"chars" must be an array/],
    ['a vocab.json file path', () => loadTokenizer(join(gpt2Dir, 'vocab.json')), /give the directory holding vocab\.json and merges\.txt/],
  ];
  for (const [what, fn, re] of cases) assert.throws(fn, re, what);
});

test('a minimal hand-written BPE loads and merges by merges.txt rank', () => {
  const v = bytesVocab();
  const dir = dirWith('mini', {
    'vocab.json': JSON.stringify({ ...v, ab: 256, abc: 257, bc: 258, '<|endoftext|>': 259 }),
    'merges.txt': '#version: 0.2\na b\nab c\nb c\n',
  });
  const t = loadTokenizer(dir);
  assert.equal(t.vocabSize, 260);
  assert.equal(t.eotId, 259);
  assert.match(t.id, /^bpe:[0-9a-f]{16}$/);
  assert.deepEqual(t.encode('abc'), [257]);
  assert.deepEqual(t.encode('bc'), [258]);
  assert.deepEqual(t.encode('xbcab<|endoftext|>'), [v.x, 258, 256, 259]);
});
