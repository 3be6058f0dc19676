// GPT checkpoints in Hugging Face GPT-2 layout: config.json (GPT2Config fields plus a `tessera` block),
// model.safetensors with `transformer.`-prefixed Conv1D-oriented weights, and the tokenizer files. Loads tessera
// checkpoints and real HF GPT-2 directories (with or without the prefix; attention buffers ignored; lm_head tied).

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomicSync } from '../io/atomic.js';
import { f32FromSafeTensor, fromFloat32, readSafetensorsSync, writeSafetensorsSync, type SafeTensor } from '../io/safetensors.js';
import { loadTokenizer, type ByteTokenizer } from '../tokenizer/index.js';
import { validateConfig, type GptConfig, DEFAULT_CONFIG } from './config.js';
import { GPT } from './model.js';

export interface HfGpt2Config {
  model_type: 'gpt2';
  architectures: string[];
  vocab_size: number;
  n_positions: number;
  n_ctx: number;
  n_embd: number;
  n_layer: number;
  n_head: number;
  n_inner: number | null;
  activation_function: string;
  layer_norm_epsilon: number;
  resid_pdrop: number;
  embd_pdrop: number;
  attn_pdrop: number;
  tie_word_embeddings: boolean;
  bos_token_id?: number;
  eos_token_id?: number;
  tessera?: {
    attention: GptConfig['attention'];
    bandWidth: number;
    bias: boolean;
    tokenizer?: string;
    patterns?: GptConfig['patterns'];
    imageGrid?: GptConfig['imageGrid'];
    vocabRanges?: GptConfig['vocabRanges'];
  };
}

export function toHfConfig(c: GptConfig, tok?: ByteTokenizer): HfGpt2Config {
  return {
    model_type: 'gpt2',
    architectures: ['GPT2LMHeadModel'],
    vocab_size: c.vocabSize,
    n_positions: c.blockSize,
    n_ctx: c.blockSize,
    n_embd: c.nEmbd,
    n_layer: c.nLayer,
    n_head: c.nHead,
    n_inner: null,
    activation_function: 'gelu_new',
    layer_norm_epsilon: c.layerNormEps,
    resid_pdrop: c.dropout,
    embd_pdrop: c.dropout,
    attn_pdrop: c.dropout,
    tie_word_embeddings: c.tiedEmbeddings,
    ...(tok?.eotId !== undefined ? { bos_token_id: tok.eotId, eos_token_id: tok.eotId } : {}),
    tessera: {
      attention: c.attention,
      bandWidth: c.bandWidth,
      bias: c.bias,
      tokenizer: tok?.id,
      ...(c.patterns ? { patterns: c.patterns } : {}),
      ...(c.imageGrid ? { imageGrid: c.imageGrid } : {}),
      ...(c.vocabRanges ? { vocabRanges: c.vocabRanges } : {}),
    },
  };
}

export function fromHfConfig(j: unknown, path: string): GptConfig {
  if (typeof j !== 'object' || j === null) throw new Error(`${path}: expected a JSON object`);
  const o = j as Record<string, unknown>;
  if (o.model_type !== undefined && o.model_type !== 'gpt2') throw new Error(`${path}: model_type '${String(o.model_type)}' is not supported (expected 'gpt2')`);
  const num = (k: string, dflt?: number): number => {
    const v = o[k] ?? dflt;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${path}: field '${k}' must be a number, got ${JSON.stringify(o[k])}`);
    return v;
  };
  const act = o.activation_function ?? 'gelu_new';
  if (act !== 'gelu_new' && act !== 'gelu_pytorch_tanh') throw new Error(`${path}: activation_function '${String(act)}' is not supported (gelu_new)`);
  if (o.n_inner !== undefined && o.n_inner !== null && o.n_inner !== 4 * num('n_embd')) throw new Error(`${path}: n_inner must be null or 4 × n_embd`);
  const t = (o.tessera ?? {}) as Record<string, unknown>;
  const cfg: GptConfig = {
    ...DEFAULT_CONFIG,
    vocabSize: num('vocab_size'),
    blockSize: num('n_positions', num('n_ctx', 1024)),
    nEmbd: num('n_embd'),
    nLayer: num('n_layer'),
    nHead: num('n_head'),
    layerNormEps: num('layer_norm_epsilon', 1e-5),
    dropout: typeof o.resid_pdrop === 'number' ? o.resid_pdrop : 0,
    bias: t.bias === undefined ? true : Boolean(t.bias),
    tiedEmbeddings: o.tie_word_embeddings === undefined ? true : Boolean(o.tie_word_embeddings),
    attention: (t.attention as GptConfig['attention']) ?? 'dense',
    bandWidth: typeof t.bandWidth === 'number' ? t.bandWidth : DEFAULT_CONFIG.bandWidth,
    ...(t.patterns !== undefined ? { patterns: t.patterns as GptConfig['patterns'] } : {}),
    ...(t.imageGrid !== undefined ? { imageGrid: t.imageGrid as GptConfig['imageGrid'] } : {}),
    ...(t.vocabRanges !== undefined ? { vocabRanges: t.vocabRanges as GptConfig['vocabRanges'] } : {}),
  };
  validateConfig(cfg);
  return cfg;
}

/** Write config.json + model.safetensors (HF GPT-2 names) + tokenizer files into `dir` (each file atomically). */
export function saveModel(dir: string, model: GPT, tok?: ByteTokenizer, metadata: Record<string, string> = {}): void {
  const tensors: Record<string, SafeTensor> = {};
  for (const [name, p] of model.nameParameters()) tensors[`transformer.${name.replace(/^lm_head\./, '__lm_head.')}`] = fromFloat32(p.data, [...p.shape]);
  // untied heads are stored at the top level like HF's lm_head
  for (const k of Object.keys(tensors)) {
    if (k.startsWith('transformer.__lm_head.')) {
      tensors[k.replace('transformer.__lm_head.', 'lm_head.')] = tensors[k]!;
      delete tensors[k];
    }
  }
  writeSafetensorsSync(join(dir, 'model.safetensors'), tensors, { format: 'pt', ...metadata });
  if (tok) tok.save(dir);
  writeFileAtomicSync(join(dir, 'config.json'), `${JSON.stringify(toHfConfig(model.config, tok), null, 2)}\n`);
}

export interface LoadedModel {
  model: GPT;
  config: GptConfig;
  tokenizer: ByteTokenizer | undefined;
  dir: string;
}

/** Resolve a model directory: DIR itself, or DIR/checkpoint during/after a training run. */
export function resolveModelDir(dir: string): string {
  if (existsSync(join(dir, 'config.json'))) return dir;
  if (existsSync(join(dir, 'checkpoint', 'config.json'))) return join(dir, 'checkpoint');
  throw new Error(`${dir}: no config.json (not a model directory)`);
}

export function loadModel(dirIn: string, opts: { tokenizer?: string } = {}): LoadedModel {
  const dir = resolveModelDir(dirIn);
  const cfgPath = join(dir, 'config.json');
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(cfgPath, 'utf8'));
  } catch (err) {
    throw new Error(`${cfgPath}: cannot read config: ${(err as Error).message}`);
  }
  const config = fromHfConfig(raw, cfgPath);
  const weightsPath = join(dir, 'model.safetensors');
  if (!existsSync(weightsPath)) throw new Error(`${dir}: no model.safetensors`);
  const st = readSafetensorsSync(weightsPath);
  const model = new GPT(config);
  const named = model.nameParameters();
  const byName = new Map<string, SafeTensor>();
  for (const [k, v] of st.tensors) {
    if (/\.attn\.(masked_)?bias$/.test(k)) continue; // HF's causal-mask buffers
    byName.set(k.replace(/^transformer\./, ''), v);
  }
  for (const [name, p] of named) {
    const t = byName.get(name);
    if (!t) throw new Error(`${weightsPath}: missing tensor '${name}' (or 'transformer.${name}') needed by config.json (${config.nLayer} layers, n_embd ${config.nEmbd})`);
    const want = p.shape;
    if (t.shape.length !== want.length || t.shape.some((d, i) => d !== want[i])) {
      throw new Error(`${weightsPath}: tensor '${name}' has shape [${t.shape.join(', ')}] but config.json implies [${want.join(', ')}]`);
    }
    p.data = f32FromSafeTensor(t);
    byName.delete(name);
  }
  byName.delete('lm_head.weight'); // tied head (identical to wte) in HF checkpoints
  if (byName.size > 0) throw new Error(`${weightsPath}: unexpected tensors not in the model: ${[...byName.keys()].slice(0, 5).join(', ')}`);
  let tokenizer: ByteTokenizer | undefined;
  const tokSpec = opts.tokenizer;
  if (tokSpec) tokenizer = loadTokenizer(tokSpec);
  else if (existsSync(join(dir, 'vocab.json')) || existsSync(join(dir, 'tokenizer.json'))) tokenizer = loadTokenizer(dir);
  else {
    const declared = (raw as { tessera?: { tokenizer?: string } }).tessera?.tokenizer;
    if (declared === 'gpt2' || declared === 'bytes') tokenizer = loadTokenizer(declared);
  }
  if (tokenizer && tokenizer.vocabSize > config.vocabSize) {
    throw new Error(`${dir}: tokenizer has ${tokenizer.vocabSize} tokens but the model's vocab_size is ${config.vocabSize}`);
  }
  return { model, config, tokenizer, dir };
}
