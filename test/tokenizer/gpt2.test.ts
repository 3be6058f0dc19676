// The built-in GPT-2 BPE against js-tiktoken's gpt2 encoding, token for token.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getEncoding } from 'js-tiktoken';
import { gpt2Tokenizer, loadTokenizer } from '../../src/tokenizer/index.js';
import { pretokenize } from '../../src/tokenizer/gpt2-pretokenize.js';
import { firstDiff, rng, spamSample, variedText } from './varied-text.js';

const ref = getEncoding('gpt2');
const tok = gpt2Tokenizer();

function assertSame(actual: number[], expected: number[], what: string): void {
  if (actual.length !== expected.length || actual.some((x, i) => x !== expected[i])) assert.fail(`${what}: ${firstDiff(actual, expected)}`);
}

test('gpt2 basics: id, vocab size, <|endoftext|> = 50256', () => {
  assert.equal(tok.id, 'gpt2');
  assert.equal(tok.vocabSize, 50257);
  assert.equal(tok.eotId, 50256);
  assert.equal(loadTokenizer('gpt2'), tok);
  assert.deepEqual(tok.encode('Hello world'), [15496, 995]);
  assert.deepEqual(tok.encode('<|endoftext|>'), [50256]);
  assert.deepEqual(tok.encode('<|endoftext|>', { allowedSpecial: 'none' }), ref.encode('<|endoftext|>', [], []));
  assert.equal(tok.decode([50256]), '<|endoftext|>');
});

test('gpt2 parity with js-tiktoken on ~400 KB of varied generated text', () => {
  const text = variedText(400_000, 7);
  assert.ok(text.includes('<|endoftext|>'));
  assertSame(tok.encode(text), ref.encode(text, 'all'), 'allowedSpecial all');
  assertSame(tok.encode(text, { allowedSpecial: 'none' }), ref.encode(text, [], []), 'allowedSpecial none');
});

test('gpt2 parity on many short snippets (cold and warm caches, segment edges)', () => {
  const r = rng(3);
  const base = variedText(60_000, 11);
  for (let k = 0; k < 2000; k++) {
    const a = Math.floor(r() * base.length);
    const s = base.slice(a, a + 1 + Math.floor(r() * 40));
    assertSame(tok.encode(s), ref.encode(s, 'all'), `snippet ${JSON.stringify(s)}`);
  }
});

test('gpt2 parity on a spam-assassin sample (e-mail headers, HTML, base64)', () => {
  const docs = spamSample(12, 5);
  const text = docs.join('\n<|endoftext|>\n');
  assert.ok(text.length > 1_000_000, `sample is ${text.length} chars`);
  assertSame(tok.encode(text), ref.encode(text, 'all'), 'spam sample');
});

test('gpt2 parity on edge cases: long runs, lone surrogates, contractions, unicode whitespace', () => {
  const r = rng(5);
  let letters = '';
  for (let i = 0; i < 700; i++) letters += String.fromCharCode(97 + Math.floor(r() * 26));
  const cases = [
    '', ' ', '  ', 'a', "'", "'s", " 's", "''s", "'S", "it's'll've", 'x\'re\'ve\'m\'ll\'d\'t',
    ' '.repeat(1000) + 'x', '\n'.repeat(500), ' \n'.repeat(300), '\t \t x', 'a  ', 'a \n b',
    letters, ` ${letters}`, '9'.repeat(900), '!'.repeat(800), '\u00a0 x', ' \u00a0x', '\u3000\u3000x', 'a\u2028b',
    '\ud800', 'a\udc00b', '\ud83d', '🎉\ud83d x', 'x<|endoftext|>y', '<|endoftext|><|endoftext|>', ' <|endoftext|> ',
    'ab<|endoftext', 'e\u0301\u0301', ' ½ ² ٣', 'naïve café', '中文 ', ' 中文', '1 2  3   4', 'a1b2', 'A\'B',
  ];
  for (const s of cases) assertSame(tok.encode(s), ref.encode(s, 'all'), `case ${JSON.stringify(s.length > 40 ? `${s.slice(0, 40)}…` : s)}`);
});

test('gpt2 decode inverts encode; decodeBytes returns the exact UTF-8', () => {
  const text = variedText(100_000, 9);
  const ids = tok.encode(text);
  assert.equal(tok.decode(ids), text);
  assert.deepEqual(Buffer.from(tok.decodeBytes(ids)), Buffer.from(text, 'utf8'));
  const emoji = tok.encode('🎉');
  assert.ok(emoji.length > 1);
  assert.equal(tok.decode(emoji.slice(0, 1)), '\ufffd');
  assert.deepEqual(Buffer.from(tok.decodeBytes(emoji)), Buffer.from('🎉'));
  assert.throws(() => tok.decode([50257]), /50257 is outside 0\.\.50256/);
  assert.throws(() => tok.decode([-1]), /outside/);
});

test('pre-tokenizer splits as the GPT-2 regex', () => {
  assert.deepEqual(pretokenize("Hello world's   end\n\n"), ['Hello', ' world', "'s", '  ', ' end', '\n\n']);
});
