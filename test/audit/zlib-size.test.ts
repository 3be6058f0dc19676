// zlibSize against CPython's zlib.compress: the committed fixture (test/fixtures/audit/zlib.json, made by
// scripts/make_audit_fixtures.py) exactly, and, where the Python oracle is installed, fresh random strings plus the
// first 300 spam-assassin e-mails. Also records how often Node's built-in zlib disagrees (why pako is used).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { deflateSync } from 'node:zlib';
import { zlibSize } from '../../src/audit/zlib-size.js';
import { loadCorpus } from '../../src/data/corpora.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PYTHON = process.env.TESSERA_PYTHON ?? '/work/venv/bin/python';
const SCRIPT = `${ROOT}scripts/make_audit_fixtures.py`;
const FIXTURE = JSON.parse(readFileSync(`${ROOT}test/fixtures/audit/zlib.json`, 'utf8')) as { cases: { text: string; size: number }[] };

function nodeSize(text: string): number {
  return deflateSync(Buffer.from(text, 'utf8'), { level: 6 }).length;
}

function mismatches(texts: readonly string[], sizes: readonly number[], f: (t: string) => number): number[] {
  return texts.flatMap((t, i) => (f(t) === sizes[i] ? [] : [i]));
}

/** A seeded mix of ASCII, unicode (astral included), repeats and long texts. */
function randomTexts(seed: number, n: number): string[] {
  let s = seed >>> 0;
  const rand = (): number => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const alphabets = ['abc ', 'the model memorized ', 'αβγ日本語😀∑ ', '0123456789\n', 'x'];
  return Array.from({ length: n }, () => {
    const len = pick([0, 1, 8, 64, 500, 4000, 10000]);
    const chars = [...pick(alphabets)];
    let t = '';
    while (t.length < len) t += rand() < 0.2 ? String.fromCharCode(32 + Math.floor(rand() * 95)) : pick(chars);
    return t;
  });
}

function pythonSizes(texts: string[]): number[] {
  const run = spawnSync(PYTHON, [SCRIPT, '--zlib'], { input: JSON.stringify({ texts }), encoding: 'utf8', maxBuffer: 1 << 28 });
  assert.equal(run.status, 0, run.stderr);
  return (JSON.parse(run.stdout) as { sizes: number[] }).sizes;
}

describe('zlibSize', () => {
  it('matches CPython zlib.compress on every fixture text', () => {
    const texts = FIXTURE.cases.map((c) => c.text);
    const sizes = FIXTURE.cases.map((c) => c.size);
    assert.ok(texts.length >= 150);
    assert.deepEqual(mismatches(texts, sizes, zlibSize), []);
    assert.equal(zlibSize(''), 8);
    const node = mismatches(texts, sizes, nodeSize).length;
    console.log(`# fixture: pako ${texts.length}/${texts.length} exact; node:zlib ${texts.length - node}/${texts.length}`);
  });
});

const liveSkip = existsSync(PYTHON) ? false : `no Python at ${PYTHON} (set TESSERA_PYTHON)`;

describe('zlibSize matches CPython live', { skip: liveSkip }, () => {
  it('fresh random strings and the first 300 spam-assassin e-mails', { timeout: 120_000 }, () => {
    const spam = loadCorpus('spam-assassin').documents.slice(0, 300).map((d) => d.text);
    const texts = [...randomTexts(Date.now(), 300), ...spam];
    const sizes = pythonSizes(texts);
    assert.deepEqual(mismatches(texts, sizes, zlibSize), []);
    const nodeSpam = mismatches(spam, sizes.slice(300), nodeSize).length;
    console.log(`# live: pako ${texts.length}/${texts.length} exact; node:zlib on spam ${300 - nodeSpam}/300`);
  });
});
