// How a model goes into and comes out of a directory. The trainer calls `save` for every checkpoint (into the temp
// dir that is then swapped in) and once for the finished model (into the run's output dir), and `load` on --resume.
// The GPT stores Hugging Face-layout safetensors + config.json + tokenizer files (src/lm/checkpoint.ts); a plain
// module (a conv net) can use `safetensorsIO`, which stores its parameters by dotted name.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { f32FromSafeTensor, fromFloat32, readSafetensorsSync, writeSafetensorsSync, type SafeTensor } from '../io/safetensors.js';
import type { Module } from '../nn/module.js';

export interface CheckpointIO<M extends Module = Module> {
  /**
   * Write everything needed to use the model on its own (weights, config, tokenizer …) into the existing directory
   * `dir`. Must not write `trainer_state.json` or `optimizer.safetensors` (the trainer's files).
   */
  save(dir: string, model: M, info: { step: number }): void;
  /**
   * Read the model that `save` wrote into `dir`. Returns the module to keep training: `model` itself with its
   * weights replaced, or a new module of the same architecture. Throws with a clear message on a mismatch.
   */
  load(dir: string, model: M): M;
}

/** Parameters by dotted name in `<dir>/<file>` (default model.safetensors), metadata `step` and any `metadata`. */
export function safetensorsIO<M extends Module>(opts: { file?: string; metadata?: Record<string, string> } = {}): CheckpointIO<M> {
  const file = opts.file ?? 'model.safetensors';
  return {
    save(dir, model, info) {
      const tensors: Record<string, SafeTensor> = {};
      for (const [name, p] of model.nameParameters()) tensors[name] = fromFloat32(p.data, [...p.shape]);
      writeSafetensorsSync(join(dir, file), tensors, { ...opts.metadata, step: String(info.step) });
    },
    load(dir, model) {
      const path = join(dir, file);
      if (!existsSync(path)) throw new Error(`${dir}: no ${file}`);
      const st = readSafetensorsSync(path);
      const state = new Map([...st.tensors].map(([k, v]) => [k, { shape: v.shape, data: f32FromSafeTensor(v) }]));
      model.loadStateDict(state, path);
      const extra = [...state.keys()].filter((k) => !model.namedParameters().has(k));
      if (extra.length) throw new Error(`${path}: tensors not in the model: ${extra.slice(0, 5).join(', ')}`);
      return model;
    },
  };
}
