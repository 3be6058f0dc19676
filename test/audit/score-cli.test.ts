// The public contract `tessera audit score --target DIR --reference NAME=DIR --samples FILE.jsonl --json`: one JSON
// line per {"text"} line with ppl, ppl_lower, ppl_window, zlib, ref_ppl and scores — checked against a Python
// reference (Hugging Face transformers' GPT2LMHeadModel(labels=input_ids) on the same saved checkpoints, which are
// in the HF GPT-2 layout, and Python's zlib) to 1e-4 relative; skipped where transformers is absent. Bad lines are
// refused by line number.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { saveModel } from '../../src/lm/checkpoint.js';
import { resolveConfig } from '../../src/lm/config.js';
import { GPT } from '../../src/lm/model.js';
import { BytesTokenizer } from '../../src/tokenizer/index.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PYTHON = process.env.TESSERA_PYTHON ?? '/work/venv/bin/python';
const root = mkdtempSync(join(tmpdir(), 'tessera-audit-score-'));
const TEXTS = [
  'From: Jane Doe <jane@example.com>\nSubject: Re: the meeting on Tuesday\n\nSee you at 10am in room 4. Thanks, Jane\n' + 'x'.repeat(40),
  'THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG, and then it Jumps Again.',
  'short',
  'a\u00e9\u4e2d\ud83d\ude00 unicode text that is long enough to have more than fifty bytes of it, yes.',
];

function cli(args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'audit', ...args], { encoding: 'utf8', timeout: 120_000 });
}

before(() => {
  const tok = new BytesTokenizer({ eot: true });
  for (const [name, embd, seed] of [['target', 32, 1], ['ref', 16, 2]] as const) {
    const model = new GPT(resolveConfig(undefined, { vocabSize: tok.vocabSize, blockSize: 256, nLayer: 2, nHead: 2, nEmbd: embd })).initialize(seed);
    for (const p of model.parameters()) if (p.shape.length === 2) p.data = p.data.map((v) => v * 6);
    mkdirSync(join(root, name));
    saveModel(join(root, name), model, tok);
  }
  writeFileSync(join(root, 'samples.jsonl'), TEXTS.map((text, i) => JSON.stringify({ id: i, text })).join('\n') + '\n');
});
after(() => rmSync(root, { recursive: true, force: true }));

interface Row {
  ppl: number;
  ppl_lower: number;
  ppl_window: number;
  zlib: number;
  ref_ppl: Record<string, number>;
  scores: Record<string, number>;
}

const PY = `
import json, sys, zlib, math, torch
from transformers import GPT2LMHeadModel
root = sys.argv[1]
texts = [json.loads(l)["text"] for l in open(root + "/samples.jsonl") if l.strip()]
models = {n: GPT2LMHeadModel.from_pretrained(root + "/" + n).eval() for n in ("target", "ref")}
def nlls(m, t):
    ids = torch.tensor([list(t.encode("utf-8"))])
    with torch.no_grad():
        logits = m(ids).logits[0, :-1].double()
    return torch.nn.functional.cross_entropy(logits, ids[0, 1:], reduction="none").tolist()
def ppl(m, t):
    ids = torch.tensor([list(t.encode("utf-8"))])
    with torch.no_grad():
        return math.exp(m(ids, labels=ids).loss.item())
out = []
for t in texts:
    x = nlls(models["target"], t)
    w = min(sum(x[i:i + 50]) / 50 for i in range(len(x) - 49)) if len(x) > 50 else sum(x) / len(x)
    p = ppl(models["target"], t); pl = ppl(models["target"], t.lower()); pr = ppl(models["ref"], t)
    z = len(zlib.compress(t.encode("utf-8")))
    out.append({"ppl": p, "ppl_lower": pl, "ppl_window": math.exp(w), "zlib": z, "ref_ppl": {"small": pr},
                "scores": {"perplexity": -math.log(p), "zlib": z / math.log(p), "lowercase": math.log(pl) / math.log(p),
                           "window": -w, "ratio:small": math.log(pr) / math.log(p)}})
print(json.dumps(out))
`;

const hasTransformers = existsSync(PYTHON) && spawnSync(PYTHON, ['-c', 'import transformers, torch'], { encoding: 'utf8' }).status === 0;

describe('audit score (CLI contract)', () => {
  let rows: Row[] = [];
  it('prints one JSON line per sample with the contract fields', () => {
    const r = cli(['score', '--target', join(root, 'target'), '--reference', `small=${join(root, 'ref')}`, '--samples', join(root, 'samples.jsonl'), '--json']);
    assert.equal(r.status, 0, r.stderr);
    rows = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Row);
    assert.equal(rows.length, TEXTS.length);
    for (const row of rows) {
      for (const k of ['ppl', 'ppl_lower', 'ppl_window', 'zlib', 'ref_ppl', 'scores']) assert.ok(k in row, `missing ${k}`);
      assert.deepEqual(Object.keys(row.scores).sort(), ['lowercase', 'perplexity', 'ratio:small', 'window', 'zlib']);
      assert.ok(row.ppl > 1 && Number.isInteger(row.zlib));
    }
  });

  it('equals transformers + Python zlib to 1e-4 relative', { skip: hasTransformers ? false : `no transformers at ${PYTHON}` }, () => {
    const py = spawnSync(PYTHON, ['-c', PY, root], { encoding: 'utf8', timeout: 300_000 });
    assert.equal(py.status, 0, py.stderr);
    const want = JSON.parse(py.stdout) as Row[];
    const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) <= 1e-4 * Math.max(1, Math.abs(b)), `${what}: tessera ${a}, transformers ${b}`);
    want.forEach((w, i) => {
      const g = rows[i]!;
      for (const k of ['ppl', 'ppl_lower', 'ppl_window'] as const) close(g[k], w[k], `sample ${i} ${k}`);
      assert.equal(g.zlib, w.zlib, `sample ${i} zlib`);
      close(g.ref_ppl.small!, w.ref_ppl.small!, `sample ${i} ref_ppl`);
      for (const k of Object.keys(w.scores)) close(g.scores[k]!, w.scores[k]!, `sample ${i} scores.${k}`);
    });
  });

  it('refuses a line without a string "text", naming the line', () => {
    const bad = join(root, 'bad.jsonl');
    writeFileSync(bad, '{"text": "ok"}\n{"txt": 1}\n');
    const r = cli(['score', '--target', join(root, 'target'), '--samples', bad, '--json']);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /bad\.jsonl:2: expected an object with a string "text" field/);
  });
});
