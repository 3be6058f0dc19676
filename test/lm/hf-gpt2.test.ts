// Hugging Face GPT-2 checkpoints: a tiny random GPT-2 in HF layout (transformer. prefix, Conv1D orientation,
// explicit tied lm_head) loads and gives the logits of the PyTorch reference; tessera saves the same layout back;
// a config/weights mismatch is refused with a clear message.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as T from '../../src/engine/index.js';
import { readSafetensorsSync, toTypedArray } from '../../src/io/safetensors.js';
import { loadModel, saveModel } from '../../src/lm/checkpoint.js';
import type { GPT } from '../../src/lm/model.js';
import { withBound, EVAL } from '../../src/nn/index.js';

const dir = fileURLToPath(new URL('../fixtures/hf_gpt2_tiny', import.meta.url));

async function logits(model: GPT, ids: BigInt64Array, shape: number[]): Promise<Float32Array> {
  const named = model.nameParameters();
  const names = [...named.keys()];
  const f = await T.compile(
    (...xs: T.Tensor[]) => withBound(named, new Map(names.map((n, i) => [n, xs[i]!])), () => model.forward(xs[names.length]!, EVAL)),
    [...names.map((n) => ({ shape: named.get(n)!.shape })), { shape, dtype: 'int64' as const }],
  );
  const r = (await f(...names.map((n) => named.get(n)!.data), ids)) as Float32Array;
  await f.program.release();
  return r;
}

describe('Hugging Face GPT-2 checkpoints', () => {
  it('loads the HF layout and matches the PyTorch reference logits; saves and reloads the same layout', async () => {
    const expected = readSafetensorsSync(join(dir, 'expected.safetensors'));
    const ids = toTypedArray(expected.tensors.get('input.ids')!) as BigInt64Array;
    const want = toTypedArray(expected.tensors.get('out.logits')!) as Float32Array;
    const { model, config } = loadModel(dir);
    assert.equal(config.vocabSize, 96);
    assert.equal(config.nLayer, 2);
    const got = await logits(model, ids, [2, 12]);
    assert.equal(got.length, want.length);
    for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i]! - want[i]!) < 1e-4 + 1e-4 * Math.abs(want[i]!), `logit ${i}: ${got[i]} vs ${want[i]}`);

    const out = mkdtempSync(join(tmpdir(), 'tessera-hf-'));
    try {
      saveModel(out, model);
      const st = readSafetensorsSync(join(out, 'model.safetensors'));
      assert.ok(st.tensors.has('transformer.h.0.attn.c_attn.weight'));
      assert.deepEqual(st.tensors.get('transformer.h.0.attn.c_attn.weight')!.shape, [32, 96]);
      const cfg = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
      assert.equal(cfg.model_type, 'gpt2');
      assert.equal(cfg.n_embd, 32);
      const again = await logits(loadModel(out).model, ids, [2, 12]);
      assert.deepEqual(Array.from(again), Array.from(got));
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('refuses a checkpoint whose config and weights disagree', () => {
    const out = mkdtempSync(join(tmpdir(), 'tessera-hf-bad-'));
    try {
      cpSync(dir, out, { recursive: true });
      const cfg = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
      cfg.n_embd = 64;
      writeFileSync(join(out, 'config.json'), JSON.stringify(cfg));
      assert.throws(() => loadModel(out), /tensor 'wte.weight' has shape \[96, 32\] but config.json implies \[96, 64\]/);
      cfg.n_embd = 32;
      cfg.n_layer = 3;
      writeFileSync(join(out, 'config.json'), JSON.stringify(cfg));
      assert.throws(() => loadModel(out), /missing tensor 'h.2.ln_1.weight'/);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
