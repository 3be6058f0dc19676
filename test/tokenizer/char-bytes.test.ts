// The character-level and raw-bytes tokenizers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BytesTokenizer, CharTokenizer, loadTokenizer, trainCharTokenizer } from '../../src/tokenizer/index.js';
import { variedText } from './varied-text.js';

const root = mkdtempSync(join(tmpdir(), 'tessera-char-'));
process.on('exit', () => rmSync(root, { recursive: true, force: true }));

test('char tokenizer: vocabulary is the sorted distinct code points; round trip', () => {
  const text = 'First Citizen:\nBefore we proceed any further, hear me speak. 🎉 é';
  const t = trainCharTokenizer(text);
  assert.deepEqual(t.chars, [...new Set([...text])].sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!));
  assert.equal(t.chars[0], '\n');
  assert.equal(t.chars.at(-1), '🎉');
  assert.equal(t.vocabSize, t.chars.length);
  assert.equal(t.eotId, undefined);
  assert.match(t.id, /^char:[0-9a-f]{16}$/);
  const ids = t.encode(text);
  assert.equal(ids.length, [...text].length);
  assert.equal(t.decode(ids), text);
  const big = variedText(50_000, 2);
  const tb = trainCharTokenizer(big);
  assert.equal(tb.decode(tb.encode(big)), big);
});

test('char tokenizer: unknown characters throw with the character and position', () => {
  const t = trainCharTokenizer('abc ');
  assert.throws(() => t.encode('ab cx'), /unknown character "x" \(U\+0078\) at position 4/);
  assert.throws(() => t.encode('a🎉b'), /unknown character "🎉" \(U\+1F389\) at position 1/);
  assert.throws(() => t.encode('🎉🎉z'), /"🎉" \(U\+1F389\) at position 0/);
  assert.throws(() => t.decode([4]), /outside 0\.\.3/);
});

test('char tokenizer: optional <|endoftext|>, save/load round trip', () => {
  const t = trainCharTokenizer('hello world', { eot: true });
  assert.equal(t.eotId, t.chars.length);
  assert.equal(t.vocabSize, t.chars.length + 1);
  assert.notEqual(t.id, trainCharTokenizer('hello world').id);
  assert.deepEqual(t.encode('he<|endoftext|>lo').slice(2, 3), [t.eotId]);
  assert.equal(t.decode(t.encode('he<|endoftext|>lo')), 'he<|endoftext|>lo');
  assert.throws(() => t.encode('<|endoftext|>', { allowedSpecial: 'none' }), /unknown character "<"/);
  const dir = join(root, 'char');
  t.save(dir);
  const j = JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8'));
  assert.equal(j.type, 'char');
  assert.deepEqual(j.chars, t.chars);
  for (const spec of [dir, join(dir, 'tokenizer.json')]) {
    const l = loadTokenizer(spec);
    assert.ok(l instanceof CharTokenizer);
    assert.equal(l.id, t.id);
    assert.equal(l.eotId, t.eotId);
    assert.deepEqual(l.encode('hello<|endoftext|>'), t.encode('hello<|endoftext|>'));
  }
});

test('bytes tokenizer: UTF-8 bytes, optional eot 256, lossy decode of partial sequences', () => {
  const b = loadTokenizer('bytes');
  assert.equal(b.id, 'bytes');
  assert.equal(b.vocabSize, 256);
  assert.equal(b.eotId, undefined);
  const s = 'héllo 🎉<|endoftext|>';
  assert.deepEqual(b.encode(s), [...Buffer.from(s)]);
  assert.equal(b.decode(b.encode(s)), s);
  assert.equal(b.decode([0xf0, 0x9f]), '\ufffd');
  assert.throws(() => b.decode([256]), /256 is outside 0\.\.255/);
  const e = new BytesTokenizer({ eot: true });
  assert.equal(e.id, 'bytes+eot');
  assert.equal(e.vocabSize, 257);
  assert.deepEqual(e.encode('a<|endoftext|>b'), [97, 256, 98]);
  assert.deepEqual(e.encode('a<|endoftext|>b', { allowedSpecial: 'none' }), [...Buffer.from('a<|endoftext|>b')]);
  assert.equal(e.decode([97, 256, 98]), 'a<|endoftext|>b');
  assert.deepEqual([...e.decodeBytes([256])], [...Buffer.from('<|endoftext|>')]);
  const dir = join(root, 'bytes');
  e.save(dir);
  assert.equal(loadTokenizer(dir).id, 'bytes+eot');
  assert.equal(loadTokenizer('bytes+eot').eotId, 256);
});
