// `tessera tokenize` and `tessera tokenizer train|info` through the real CLI launcher.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadTokenizer } from '../../src/tokenizer/index.js';
import { spamSample } from './varied-text.js';

const root = mkdtempSync(join(tmpdir(), 'tessera-cli-'));
process.on('exit', () => rmSync(root, { recursive: true, force: true }));

function tessera(...args: string[]): { stdout: string; stderr: string; status: number | null } {
  const r = spawnSync(process.execPath, ['bin/tessera.js', ...args], { encoding: 'utf8' });
  return { stdout: r.stdout, stderr: r.stderr, status: r.status };
}

test('tessera tokenize prints ids as JSON (gpt2 default, --file, --decode, bytes)', () => {
  assert.deepEqual(JSON.parse(tessera('tokenize', '--text', 'Hello world<|endoftext|>').stdout), [15496, 995, 50256]);
  const f = join(root, 'in.txt');
  writeFileSync(f, 'Hello world');
  assert.deepEqual(JSON.parse(tessera('tokenize', '--tokenizer', 'gpt2', '--file', f).stdout), [15496, 995]);
  assert.equal(tessera('tokenize', '--decode', '--text', '[15496,995]').stdout, 'Hello world');
  assert.deepEqual(JSON.parse(tessera('tokenize', '-t', 'bytes', '--text', 'hé').stdout), [104, 195, 169]);
  const bad = tessera('tokenize', '-t', join(root, 'missing'), '--text', 'x');
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /missing.*no such file or directory/);
});

test('tessera tokenizer train writes a BPE that tessera tokenize and loadTokenizer use', () => {
  const corpus = join(root, 'corpus.txt');
  writeFileSync(corpus, spamSample(200).join('\n'));
  const out = join(root, 'bpe');
  const r = tessera('tokenizer', 'train', '--corpus-file', corpus, '--vocab-size', '300', '--out', out, '--quiet');
  assert.equal(r.status, 0, r.stderr);
  const summary = JSON.parse(r.stdout);
  assert.equal(summary.vocabSize, 300);
  const tok = loadTokenizer(out);
  assert.equal(tok.id, summary.id);
  assert.deepEqual(JSON.parse(tessera('tokenize', '-t', out, '--text', 'Received: from').stdout), tok.encode('Received: from'));
  assert.deepEqual(JSON.parse(tessera('tokenizer', 'info', out).stdout), { id: tok.id, vocabSize: 300, eotId: 299 });
});
