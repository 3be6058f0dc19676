// The DALL·E discrete VAE (Ramesh et al. 2021, §2.1 and App. A), built as OpenAI's dall_e/encoder.py and decoder.py
// build it, so OpenAI's released weights load by their own names (blocks.input.w, blocks.group_1.block_1.res_path.
// conv_1.w, …). Encoder: 7×7 input conv, groups of bottleneck residual blocks (out = id_path(x) + post_gain·
// res_path(x), post_gain = 1/n_layers²) with widths 1,2,4,8 × n_hid (generalised: 2^g × n_hid for g < groupCount),
// 2×2 max-pooling after every group but the last, ReLU + 1×1 conv to K logits. Decoder: 1×1 conv from the K-way
// one-hot (or its relaxation) to n_init, groups of blocks with widths 8,4,2,1 × n_hid, nearest ×2 upsampling after
// every group but the last, ReLU + 1×1 conv to 2·C channels (μ and ln b of the logit-Laplace likelihood).
// A VQ-VAE option (quantizer 'vq') replaces the logits by a codebookDim-wide encoder output quantised to the
// nearest of K codebook vectors; its "logits" are the negated squared distances, so the argmax is the nearest code
// and the token API is the same. Pixels go through map_pixels (ε = 0.1) before the encoder, and reconstructions are
// unmap_pixels(sigmoid(μ)), as in OpenAI's usage notebook.
//
// A tessera dVAE directory: config.json ("model_type": "tessera-dvae", OpenAI's attr names) + encoder.safetensors +
// decoder.safetensors with exactly OpenAI's state-dict names (the VQ codebook is the decoder's `codebook`).

import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as T from '../engine/index.js';
import type { Tensor } from '../engine/tensor.js';
import { writeFileAtomicSync } from '../io/atomic.js';
import { f32FromSafeTensor, fromFloat32, readSafetensorsSync, writeSafetensorsSync, type SafeTensor } from '../io/safetensors.js';
import { normal, uniform, zeros } from '../nn/init.js';
import { Module, Parameter } from '../nn/module.js';
import { CompiledModule } from '../runtime/compiled-module.js';
import { imageLength, stackImages, type RgbImage } from './types.js';

// ---- configuration ----

export type DvaeQuantizer = 'gumbel' | 'vq';

export interface DvaeConfig {
  /** Side of the square input images (pixels); a multiple of 2^(groupCount−1). */
  inputSize: number;
  inputChannels: number;
  outputChannels: number;
  /** Groups of blocks (OpenAI: 4); the token grid is inputSize / 2^(groupCount−1) on a side. */
  groupCount: number;
  /** Width of the first encoder group / last decoder group (OpenAI: 256); a multiple of 4. */
  nHid: number;
  nBlkPerGroup: number;
  /** K, the number of codes (OpenAI: 8192). */
  vocabSize: number;
  /** Width of the decoder's input conv (OpenAI: 128). */
  nInit: number;
  quantizer: DvaeQuantizer;
  /** VQ only: width D of the encoder output and of the codebook vectors (default 64). */
  codebookDim?: number;
}

/** OpenAI's released dVAE: 256×256 → 32×32 tokens, K 8192, n_hid 256, 4 groups × 2 blocks. */
export const OPENAI_DVAE: Readonly<DvaeConfig> = Object.freeze({
  inputSize: 256,
  inputChannels: 3,
  outputChannels: 3,
  groupCount: 4,
  nHid: 256,
  nBlkPerGroup: 2,
  vocabSize: 8192,
  nInit: 128,
  quantizer: 'gumbel',
});

/** A dVAE that trains on 2 CPU cores: 32×32 → 8×8 tokens, K 512, n_hid 32, 3 groups × 1 block. */
export const smallDvaeConfig: Readonly<DvaeConfig> = Object.freeze({
  inputSize: 32,
  inputChannels: 3,
  outputChannels: 3,
  groupCount: 3,
  nHid: 32,
  nBlkPerGroup: 1,
  vocabSize: 512,
  nInit: 32,
  quantizer: 'gumbel',
});

const DEFAULT_CODEBOOK_DIM = 64;

/** config.json field names (OpenAI's attr names) for each DvaeConfig field. */
const JSON_FIELDS: [keyof DvaeConfig, string][] = [
  ['inputSize', 'input_size'],
  ['inputChannels', 'input_channels'],
  ['outputChannels', 'output_channels'],
  ['groupCount', 'group_count'],
  ['nHid', 'n_hid'],
  ['nBlkPerGroup', 'n_blk_per_group'],
  ['vocabSize', 'vocab_size'],
  ['nInit', 'n_init'],
];

export const DVAE_MODEL_TYPE = 'tessera-dvae';

/** Check a config; returns it with defaults filled (codebookDim for VQ). Throws naming the field. */
export function validateDvaeConfig(c: DvaeConfig, source = 'dVAE config'): DvaeConfig {
  const posInt = (field: string, v: unknown) => {
    if (!Number.isInteger(v) || (v as number) < 1) throw new Error(`${source}: ${field} must be a positive integer, got ${JSON.stringify(v)}`);
  };
  for (const [k] of JSON_FIELDS) posInt(k, c[k]);
  if (c.quantizer !== 'gumbel' && c.quantizer !== 'vq') throw new Error(`${source}: quantizer must be 'gumbel' or 'vq', got ${JSON.stringify(c.quantizer)}`);
  if (c.nHid % 4 !== 0) throw new Error(`${source}: nHid must be a multiple of 4 (the blocks' bottleneck is a quarter of their width), got ${c.nHid}`);
  const down = 2 ** (c.groupCount - 1);
  if (c.inputSize % down !== 0) throw new Error(`${source}: inputSize ${c.inputSize} must be a multiple of ${down} (2^(groupCount−1) with groupCount ${c.groupCount})`);
  const out: DvaeConfig = { ...c };
  if (c.quantizer === 'vq') {
    out.codebookDim = c.codebookDim ?? DEFAULT_CODEBOOK_DIM;
    posInt('codebookDim', out.codebookDim);
  } else delete out.codebookDim;
  return out;
}

/** Side of the token grid. */
export function dvaeGridSize(c: DvaeConfig): number {
  return c.inputSize / 2 ** (c.groupCount - 1);
}

export function dvaeConfigToJson(c: DvaeConfig): Record<string, unknown> {
  const j: Record<string, unknown> = { model_type: DVAE_MODEL_TYPE };
  for (const [k, name] of JSON_FIELDS) j[name] = c[k];
  j.quantizer = c.quantizer;
  if (c.quantizer === 'vq') j.codebook_dim = c.codebookDim ?? DEFAULT_CODEBOOK_DIM;
  return j;
}

export function dvaeConfigFromJson(j: Record<string, unknown>, source = 'config.json'): DvaeConfig {
  if (j.model_type !== DVAE_MODEL_TYPE) {
    throw new Error(`${source}: model_type is ${JSON.stringify(j.model_type)}, expected "${DVAE_MODEL_TYPE}"`);
  }
  const c: Record<string, unknown> = {};
  for (const [k, name] of JSON_FIELDS) {
    if (!(name in j)) throw new Error(`${source}: field '${name}' is missing`);
    const v = j[name];
    if (!Number.isInteger(v) || (v as number) < 1) throw new Error(`${source}: field '${name}' must be a positive integer, got ${JSON.stringify(v)}`);
    c[k] = v;
  }
  c.quantizer = j.quantizer ?? 'gumbel';
  if (j.codebook_dim !== undefined) c.codebookDim = j.codebook_dim;
  return validateDvaeConfig(c as unknown as DvaeConfig, source);
}

// ---- pixels ----

/** ε of the logit-Laplace likelihood (OpenAI dall_e/utils.py logit_laplace_eps). */
export const LOGIT_LAPLACE_EPS = 0.1;

/** map_pixels: [0, 1] → [ε, 1 − ε]. */
export function mapPixels(x: Tensor): Tensor {
  return T.add(T.mul(x, 1 - 2 * LOGIT_LAPLACE_EPS), LOGIT_LAPLACE_EPS);
}

/** unmap_pixels: clamp((x − ε)/(1 − 2ε), 0, 1). */
export function unmapPixels(x: Tensor): Tensor {
  return T.clamp(T.div(T.sub(x, LOGIT_LAPLACE_EPS), 1 - 2 * LOGIT_LAPLACE_EPS), 0, 1);
}

// ---- modules (property names are OpenAI's state-dict names) ----

/** OpenAI's dall_e.utils.Conv2d: weight `w` (out, in, k, k) ~ N(0, 1/(in·k²)), bias `b` zeros, "same" padding. */
export class DvaeConv extends Module {
  w: Parameter;
  b: Parameter;
  constructor(
    readonly nIn: number,
    readonly nOut: number,
    readonly kw: number,
  ) {
    super();
    if (kw % 2 !== 1) throw new Error(`DvaeConv: kernel width must be odd, got ${kw}`);
    this.w = new Parameter([nOut, nIn, kw, kw], normal(1 / Math.sqrt(nIn * kw * kw)));
    this.b = new Parameter([nOut], zeros, { decay: false });
  }
  forward(x: Tensor): Tensor {
    return T.conv2d(x, this.w.t, this.b.t, { padding: (this.kw - 1) / 2 }); // (N, nOut, H, W)
  }
}

/** res_path: ReLU, conv_1, ReLU, conv_2, ReLU, conv_3, ReLU, conv_4. */
class ResPath extends Module {
  conv_1: DvaeConv;
  conv_2: DvaeConv;
  conv_3: DvaeConv;
  conv_4: DvaeConv;
  constructor(nIn: number, nOut: number, kernels: readonly [number, number, number, number]) {
    super();
    const nHid = nOut / 4;
    this.conv_1 = new DvaeConv(nIn, nHid, kernels[0]);
    this.conv_2 = new DvaeConv(nHid, nHid, kernels[1]);
    this.conv_3 = new DvaeConv(nHid, nHid, kernels[2]);
    this.conv_4 = new DvaeConv(nHid, nOut, kernels[3]);
  }
  forward(x: Tensor): Tensor {
    let h = this.conv_1.forward(T.relu(x));
    h = this.conv_2.forward(T.relu(h));
    h = this.conv_3.forward(T.relu(h));
    return this.conv_4.forward(T.relu(h));
  }
}

/** Encoder block: res_path kernels 3,3,3,1; decoder block: 1,3,3,3 (OpenAI's encoder.py / decoder.py). */
export class DvaeBlock extends Module {
  id_path: DvaeConv | undefined;
  res_path: ResPath;
  readonly postGain: number;
  constructor(nIn: number, nOut: number, nLayers: number, kind: 'encoder' | 'decoder') {
    super();
    this.id_path = nIn !== nOut ? new DvaeConv(nIn, nOut, 1) : undefined;
    this.res_path = new ResPath(nIn, nOut, kind === 'encoder' ? [3, 3, 3, 1] : [1, 3, 3, 3]);
    this.postGain = 1 / (nLayers * nLayers);
  }
  forward(x: Tensor): Tensor {
    const id = this.id_path ? this.id_path.forward(x) : x; // (N, nOut, H, W)
    return T.add(id, T.mul(this.res_path.forward(x), this.postGain));
  }
}

/** group_g: block_1 … block_n as properties (their names are OpenAI's). */
export class DvaeGroup extends Module {
  readonly _blocks: DvaeBlock[];
  constructor(blocks: DvaeBlock[]) {
    super();
    this._blocks = blocks;
    const self = this as unknown as Record<string, DvaeBlock>;
    blocks.forEach((b, i) => (self[`block_${i + 1}`] = b));
  }
  forward(x: Tensor): Tensor {
    for (const b of this._blocks) x = b.forward(x);
    return x;
  }
}

/** blocks.output: ReLU then a 1×1 conv. */
class DvaeOutput extends Module {
  conv: DvaeConv;
  constructor(nIn: number, nOut: number) {
    super();
    this.conv = new DvaeConv(nIn, nOut, 1);
  }
  forward(x: Tensor): Tensor {
    return this.conv.forward(T.relu(x));
  }
}

/** `blocks`: input conv, group_1 … group_G, output (in OpenAI's order). */
class DvaeStack extends Module {
  input: DvaeConv;
  readonly _groups: DvaeGroup[];
  declare output: DvaeOutput;
  constructor(input: DvaeConv, groups: DvaeGroup[], output: DvaeOutput) {
    super();
    this.input = input;
    this._groups = groups;
    const self = this as unknown as Record<string, DvaeGroup>;
    groups.forEach((g, i) => (self[`group_${i + 1}`] = g));
    this.output = output;
  }
}

export class DvaeEncoder extends Module {
  blocks: DvaeStack;
  constructor(readonly config: DvaeConfig) {
    super();
    const { groupCount: G, nHid, nBlkPerGroup: nb } = config;
    const nLayers = G * nb;
    const groups: DvaeGroup[] = [];
    for (let g = 0; g < G; g++) {
      const width = 2 ** g * nHid;
      const prev = g === 0 ? nHid : 2 ** (g - 1) * nHid;
      groups.push(new DvaeGroup(Array.from({ length: nb }, (_, i) => new DvaeBlock(i === 0 ? prev : width, width, nLayers, 'encoder'))));
    }
    const outC = config.quantizer === 'vq' ? config.codebookDim! : config.vocabSize;
    this.blocks = new DvaeStack(new DvaeConv(config.inputChannels, nHid, 7), groups, new DvaeOutput(2 ** (G - 1) * nHid, outC));
  }
  /** x: mapped pixels (N, C, S, S) → logits (N, K, h, w) (VQ: encoder output (N, D, h, w)). */
  forward(x: Tensor): Tensor {
    let h = this.blocks.input.forward(x); // (N, n_hid, S, S)
    const groups = this.blocks._groups;
    groups.forEach((g, i) => {
      h = g.forward(h);
      if (i < groups.length - 1) h = T.maxPool2d(h, 2); // (N, C_g, H/2, W/2)
    });
    return this.blocks.output.forward(h); // (N, K, h, w)
  }
}

export class DvaeDecoder extends Module {
  /** VQ only: the K codebook vectors (K, D). */
  codebook: Parameter | undefined;
  blocks: DvaeStack;
  constructor(readonly config: DvaeConfig) {
    super();
    const { groupCount: G, nHid, nBlkPerGroup: nb, nInit } = config;
    const nLayers = G * nb;
    const groups: DvaeGroup[] = [];
    for (let g = 0; g < G; g++) {
      const width = 2 ** (G - 1 - g) * nHid;
      const prev = g === 0 ? nInit : 2 ** (G - g) * nHid;
      groups.push(new DvaeGroup(Array.from({ length: nb }, (_, i) => new DvaeBlock(i === 0 ? prev : width, width, nLayers, 'decoder'))));
    }
    let inC = config.vocabSize;
    if (config.quantizer === 'vq') {
      const K = config.vocabSize;
      // uniform(−1/K, 1/K), the usual VQ-VAE codebook init
      this.codebook = new Parameter([K, config.codebookDim!], uniform(-1 / K, 1 / K), { decay: false });
      inC = config.codebookDim!;
    }
    this.blocks = new DvaeStack(new DvaeConv(inC, nInit, 1), groups, new DvaeOutput(nHid, 2 * config.outputChannels));
  }
  /** z: one-hot / relaxed codes (N, K, h, w) (VQ: code vectors (N, D, h, w)) → stats (N, 2C, S, S): μ then ln b. */
  forward(z: Tensor): Tensor {
    let h = this.blocks.input.forward(z); // (N, n_init, h, w)
    const groups = this.blocks._groups;
    groups.forEach((g, i) => {
      h = g.forward(h);
      if (i < groups.length - 1) h = T.upsampleNearest(h, 2); // (N, C_g, 2H, 2W)
    });
    return this.blocks.output.forward(h); // (N, 2C, S, S)
  }
}

/** Squared distances of code vectors z (N, D, h, w) to every codebook row (K, D) → (N, K, h, w). */
export function codeDistances(z: Tensor, codebook: Tensor): Tensor {
  const [n, d, h, w] = z.shape as [number, number, number, number];
  const K = codebook.shape[0]!;
  const flat = T.reshape(T.transpose(z, [0, 2, 3, 1]), [n * h * w, d]); // (M, D)
  const zz = T.sum(T.mul(flat, flat), 1, true); // (M, 1)
  const ee = T.reshape(T.sum(T.mul(codebook, codebook), 1), [1, K]); // (1, K)
  const ze = T.matmulNT(flat, codebook); // (M, K)
  const dist = T.add(T.sub(zz, T.mul(ze, 2)), ee); // (M, K)
  return T.transpose(T.reshape(dist, [n, h, w, K]), [0, 3, 1, 2]); // (N, K, h, w)
}

export class Dvae extends Module {
  readonly config: DvaeConfig;
  encoder: DvaeEncoder;
  decoder: DvaeDecoder;
  private _runner: CompiledModule<Dvae> | undefined;

  constructor(config: DvaeConfig) {
    super();
    this.config = validateDvaeConfig(config);
    this.encoder = new DvaeEncoder(this.config);
    this.decoder = new DvaeDecoder(this.config);
  }

  /** Side of the token grid. */
  get gridSize(): number {
    return dvaeGridSize(this.config);
  }

  get tokensPerImage(): number {
    return this.gridSize ** 2;
  }

  /**
   * x: mapped pixels (N, C, S, S) → logits (N, K, h, w). Gumbel: the encoder's logits. VQ: minus the squared distance
   * to every code (so the argmax is the nearest code).
   */
  encodeLogits(x: Tensor): Tensor {
    this.checkInput(x);
    const e = this.encoder.forward(x); // (N, K | D, h, w)
    if (this.config.quantizer === 'gumbel') return e;
    return T.neg(codeDistances(e, this.decoder.codebook!.t)); // (N, K, h, w)
  }

  /** Code vectors of one-hot / soft codes z (N, K, h, w) → (N, D, h, w) (VQ only). */
  embedCodes(z: Tensor): Tensor {
    const [n, K, h, w] = z.shape as [number, number, number, number];
    const zt = T.reshape(T.transpose(z, [0, 2, 3, 1]), [n * h * w, K]); // (M, K)
    const e = T.matmul(zt, this.decoder.codebook!.t); // (M, D)
    return T.transpose(T.reshape(e, [n, h, w, this.config.codebookDim!]), [0, 3, 1, 2]); // (N, D, h, w)
  }

  /** z: one-hot or relaxed codes (N, K, h, w) → decoder stats (N, 2C, S, S) (μ, then ln b). */
  decode(z: Tensor): Tensor {
    if (z.rank !== 4 || z.shape[1] !== this.config.vocabSize) {
      throw new Error(`dVAE decode: expected codes (N, ${this.config.vocabSize}, h, w), got [${z.shape.join(', ')}]`);
    }
    return this.decoder.forward(this.config.quantizer === 'vq' ? this.embedCodes(z) : z);
  }

  /** Reconstruction from decoder stats: unmap_pixels(sigmoid(μ)) (N, C, S, S). */
  reconstruction(stats: Tensor): Tensor {
    const mu = T.narrow(stats, 1, 0, this.config.outputChannels); // (N, C, S, S)
    return unmapPixels(T.sigmoid(mu));
  }

  private checkInput(x: Tensor): void {
    const c = this.config;
    if (x.rank !== 4 || x.shape[1] !== c.inputChannels || x.shape[2] !== c.inputSize || x.shape[3] !== c.inputSize) {
      throw new Error(`dVAE: expected images (N, ${c.inputChannels}, ${c.inputSize}, ${c.inputSize}), got [${x.shape.join(', ')}]`);
    }
  }

  // ---- host helpers (compiled ONNX programs, one per batch size) ----

  private runner(): CompiledModule<Dvae> {
    // weights are fed on every run (never baked), so programs stay valid while the weights change
    this._runner ??= new CompiledModule<Dvae>(this, { bake: 'never', name: 'tessera_dvae' });
    return this._runner;
  }

  /** Images per host program run (the last chunk is padded). */
  hostBatch = 8;

  /** Encoder logits of images in [0, 1] (map_pixels applied here): (N, K, h, w) row-major. */
  async encodeImageLogits(images: readonly RgbImage[]): Promise<Float32Array> {
    const c = this.config;
    let x: Float32Array;
    try {
      x = stackImages(images, c.inputSize);
    } catch (err) {
      throw new Error(`dVAE encode: ${(err as Error).message} (this dVAE takes ${c.inputSize}×${c.inputSize} RGB images)`);
    }
    const per = imageLength(c.inputSize);
    const K = c.vocabSize;
    const hw = this.tokensPerImage;
    const out = new Float32Array(images.length * K * hw);
    const B = Math.max(1, Math.min(this.hostBatch, images.length));
    const r = this.runner();
    const prog = await r.program(`encode_${B}`, () => {
      const xin = T.input('x', [B, c.inputChannels, c.inputSize, c.inputSize]);
      return { inputs: [xin], outputs: { logits: this.encodeLogits(mapPixels(xin)) } };
    });
    for (let s = 0; s < images.length; s += B) {
      const n = Math.min(B, images.length - s);
      const chunk = new Float32Array(B * per);
      chunk.set(x.subarray(s * per, (s + n) * per));
      const res = await r.run(prog, { x: chunk });
      out.set((res.logits!.data as Float32Array).subarray(0, n * K * hw), s * K * hw);
    }
    return out;
  }

  /** Argmax tokens of images (no Gumbel noise, as for stage 2): (N, h, w) row-major. */
  async encodeTokens(images: readonly RgbImage[]): Promise<Int32Array> {
    const logits = await this.encodeImageLogits(images);
    return argmaxChannels(logits, images.length, this.config.vocabSize, this.tokensPerImage);
  }

  /** Decoder stats of token grids (N·h·w tokens, row-major): (N, 2C, S, S). */
  async decodeTokenStats(tokens: Int32Array | readonly number[]): Promise<Float32Array> {
    return (await this.runDecode(tokens, 'stats')).out;
  }

  /** Images from token grids: unmap_pixels(sigmoid(μ)) of the decoder on the one-hot codes. */
  async decodeTokens(tokens: Int32Array | readonly number[]): Promise<RgbImage[]> {
    const { out, n } = await this.runDecode(tokens, 'image');
    const S = this.config.inputSize;
    const per = this.config.outputChannels * S * S;
    return Array.from({ length: n }, (_, i) => ({ width: S, height: S, data: out.slice(i * per, (i + 1) * per) }));
  }

  private async runDecode(tokens: Int32Array | readonly number[], what: 'stats' | 'image'): Promise<{ out: Float32Array; n: number }> {
    const c = this.config;
    const hw = this.tokensPerImage;
    const g = this.gridSize;
    if (tokens.length === 0 || tokens.length % hw !== 0) {
      throw new Error(`dVAE decode: ${tokens.length} tokens is not a whole number of ${g}×${g} grids (${hw} tokens each)`);
    }
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i]!;
      if (!Number.isInteger(t) || t < 0 || t >= c.vocabSize) throw new Error(`dVAE decode: token ${i} is ${t}, outside [0, ${c.vocabSize})`);
    }
    const n = tokens.length / hw;
    const outC = what === 'stats' ? 2 * c.outputChannels : c.outputChannels;
    const per = outC * c.inputSize * c.inputSize;
    const B = Math.max(1, Math.min(this.hostBatch, n));
    const r = this.runner();
    const prog = await r.program(`decode_${what}_${B}`, () => {
      const ids = T.input('tokens', [B, g, g], 'int64');
      const z = T.transpose(T.oneHot(ids, c.vocabSize), [0, 3, 1, 2]); // (B, K, h, w)
      const stats = this.decode(z); // (B, 2C, S, S)
      return { inputs: [ids], outputs: { out: what === 'stats' ? stats : this.reconstruction(stats) } };
    });
    const out = new Float32Array(n * per);
    for (let s = 0; s < n; s += B) {
      const m = Math.min(B, n - s);
      const ids = new BigInt64Array(B * hw);
      for (let i = 0; i < m * hw; i++) ids[i] = BigInt(tokens[s * hw + i]!);
      const res = await r.run(prog, { tokens: ids });
      out.set((res.out!.data as Float32Array).subarray(0, m * per), s * per);
    }
    return { out, n };
  }

  /** Tokens then decode: the reconstructions stage 2 sees. */
  async reconstruct(images: readonly RgbImage[]): Promise<RgbImage[]> {
    return this.decodeTokens(await this.encodeTokens(images));
  }

  /** Release the compiled host programs. */
  async release(): Promise<void> {
    await this._runner?.release();
    this._runner = undefined;
  }
}

/** Argmax over the channel axis of (N, K, hw) values → (N, hw) (first maximum on ties, as torch.argmax). */
export function argmaxChannels(values: Float32Array, n: number, K: number, hw: number): Int32Array {
  const out = new Int32Array(n * hw);
  for (let i = 0; i < n; i++) {
    const base = i * K * hw;
    for (let p = 0; p < hw; p++) {
      let best = 0;
      let bestV = values[base + p]!;
      for (let k = 1; k < K; k++) {
        const v = values[base + k * hw + p]!;
        if (v > bestV) {
          bestV = v;
          best = k;
        }
      }
      out[i * hw + p] = best;
    }
  }
  return out;
}

// ---- directories ----

export const DVAE_CONFIG_FILE = 'config.json';
export const DVAE_ENCODER_FILE = 'encoder.safetensors';
export const DVAE_DECODER_FILE = 'decoder.safetensors';

/** Write `<dir>/config.json` (+ `meta` under "meta"), encoder.safetensors and decoder.safetensors. */
export function saveDvae(dir: string, vae: Dvae, meta?: Record<string, unknown>): void {
  mkdirSync(dir, { recursive: true });
  const tensorsOf = (m: Module): Record<string, SafeTensor> => {
    const t: Record<string, SafeTensor> = {};
    for (const [name, p] of m.namedParameters()) t[name] = fromFloat32(p.data, [...p.shape]);
    return t;
  };
  const md: Record<string, string> = { format: 'pt', source: 'tessera' };
  writeSafetensorsSync(join(dir, DVAE_ENCODER_FILE), tensorsOf(vae.encoder), md);
  writeSafetensorsSync(join(dir, DVAE_DECODER_FILE), tensorsOf(vae.decoder), md);
  const json = { ...dvaeConfigToJson(vae.config), ...(meta ? { meta } : {}) };
  writeFileAtomicSync(join(dir, DVAE_CONFIG_FILE), `${JSON.stringify(json, null, 2)}\n`);
}

/** Read the config of a dVAE directory. */
export function readDvaeConfig(dir: string): DvaeConfig {
  const path = join(dir, DVAE_CONFIG_FILE);
  if (!existsSync(path)) throw new Error(`${dir} is not a tessera dVAE directory: no ${DVAE_CONFIG_FILE}`);
  let j: unknown;
  try {
    j = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`${path}: not valid JSON (${(err as Error).message})`);
  }
  if (!j || typeof j !== 'object' || Array.isArray(j)) throw new Error(`${path}: expected a JSON object`);
  return dvaeConfigFromJson(j as Record<string, unknown>, path);
}

/** Load a dVAE directory (tessera's own or converted from OpenAI's pickles by scripts/convert_openai_dvae.py). */
export function loadDvae(dir: string): Dvae {
  const vae = new Dvae(readDvaeConfig(dir));
  loadPart(join(dir, DVAE_ENCODER_FILE), vae.encoder);
  loadPart(join(dir, DVAE_DECODER_FILE), vae.decoder);
  return vae;
}

function loadPart(path: string, m: Module): void {
  if (!existsSync(path)) throw new Error(`${path} is missing (a dVAE directory holds ${DVAE_CONFIG_FILE}, ${DVAE_ENCODER_FILE} and ${DVAE_DECODER_FILE})`);
  const st = readSafetensorsSync(path);
  const state = new Map([...st.tensors].map(([k, v]) => [k, { shape: v.shape, data: f32FromSafeTensor(v) }]));
  const named = m.nameParameters();
  for (const [name, p] of named) {
    const s = state.get(name);
    if (!s) throw new Error(`${path}: missing tensor '${name}' (expected shape [${p.shape.join(', ')}] from config.json)`);
    if (s.shape.length !== p.shape.length || s.shape.some((d, i) => d !== p.shape[i])) {
      throw new Error(`${path}: tensor '${name}' has shape [${s.shape.join(', ')}], config.json implies [${p.shape.join(', ')}]`);
    }
  }
  const extra = [...state.keys()].filter((k) => !named.has(k));
  if (extra.length) throw new Error(`${path}: tensors not in the model config.json describes: ${extra.slice(0, 5).join(', ')}${extra.length > 5 ? ', …' : ''}`);
  m.loadStateDict(state, path);
}
