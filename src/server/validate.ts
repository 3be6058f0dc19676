// Request validation for the OpenAI-compatible server: every field is checked for type and range, unknown fields are
// rejected, and each failure names the offending parameter (OpenAI's error shape: message, type, param, code).

export class ApiError extends Error {
  /** Extra response headers (e.g. Allow on 405). */
  readonly headers: Record<string, string> = {};
  constructor(
    readonly status: number,
    message: string,
    readonly param: string | null = null,
    readonly type: string = status >= 500 ? 'server_error' : 'invalid_request_error',
    readonly code: string | null = null,
  ) {
    super(message);
  }

  toJSON(): { error: { message: string; type: string; param: string | null; code: string | null } } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

const bad = (param: string, message: string) => new ApiError(400, message, param);

export type PromptInput = { kind: 'text'; text: string } | { kind: 'ids'; ids: number[] };

export interface CompletionRequest {
  model?: string;
  prompts: PromptInput[];
  maxTokens: number;
  temperature: number;
  topP?: number;
  topK?: number;
  n: number;
  stop: string[];
  echo: boolean;
  /** Number of alternatives per token (0..20); undefined = no logprobs. */
  logprobs?: number;
  stream: boolean;
  includeUsage: boolean;
  seed?: number;
  temperatureSchedule?: { start: number; end: number; over: number };
}

export interface Limits {
  /** Token ids must be in 0..vocabSize-1. */
  vocabSize: number;
  maxN: number;
  maxLogprobs: number;
  /** prompts × n. */
  maxRows: number;
  maxStop: number;
}

export const DEFAULT_LIMITS: Omit<Limits, 'vocabSize'> = { maxN: 128, maxLogprobs: 20, maxRows: 256, maxStop: 16 };

const COMPLETION_FIELDS = new Set([
  'model',
  'prompt',
  'max_tokens',
  'temperature',
  'top_p',
  'top_k',
  'n',
  'stop',
  'echo',
  'logprobs',
  'stream',
  'stream_options',
  'seed',
  'suffix',
  'best_of',
  'presence_penalty',
  'frequency_penalty',
  'logit_bias',
  'user',
  'temperature_schedule',
]);

type Obj = Record<string, unknown>;

export function requireObject(body: unknown): Obj {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw bad('body', 'the request body must be a JSON object');
  return body as Obj;
}

function rejectUnknown(o: Obj, allowed: Set<string>): void {
  for (const k of Object.keys(o)) if (!allowed.has(k)) throw bad(k, `unrecognized request argument supplied: ${k}`);
}

const present = (v: unknown) => v !== undefined && v !== null;
const typeName = (v: unknown) => (Array.isArray(v) ? 'array' : v === null ? 'null' : typeof v);

function int(o: Obj, k: string, lo: number, hi: number): number | undefined {
  const v = o[k];
  if (!present(v)) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw bad(k, `'${k}' must be an integer, got ${JSON.stringify(v)}`);
  if (v < lo || v > hi) throw bad(k, `'${k}' must be between ${lo} and ${hi}, got ${v}`);
  return v;
}

function num(o: Obj, k: string, ok: (x: number) => boolean, range: string): number | undefined {
  const v = o[k];
  if (!present(v)) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw bad(k, `'${k}' must be a number, got ${JSON.stringify(v)}`);
  if (!ok(v)) throw bad(k, `'${k}' must be ${range}, got ${v}`);
  return v;
}

function bool(o: Obj, k: string): boolean | undefined {
  const v = o[k];
  if (!present(v)) return undefined;
  if (typeof v !== 'boolean') throw bad(k, `'${k}' must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

function str(o: Obj, k: string): string | undefined {
  const v = o[k];
  if (!present(v)) return undefined;
  if (typeof v !== 'string') throw bad(k, `'${k}' must be a string, got ${typeName(v)}`);
  return v;
}

function tokenIds(v: unknown[], vocab: number, where: string): number[] {
  v.forEach((x, i) => {
    if (typeof x !== 'number' || !Number.isInteger(x)) throw bad('prompt', `${where}[${i}] must be an integer token id, got ${JSON.stringify(x)}`);
    if (x < 0 || x >= vocab) throw bad('prompt', `${where}[${i}]: token id ${x} is outside the vocabulary (0..${vocab - 1})`);
  });
  return v as number[];
}

/** prompt: string | string[] | number[] (token ids) | number[][]. */
export function parsePrompt(v: unknown, vocab: number): PromptInput[] {
  if (!present(v)) throw bad('prompt', "'prompt' is required");
  if (typeof v === 'string') return [{ kind: 'text', text: v }];
  if (!Array.isArray(v)) throw bad('prompt', `'prompt' must be a string, an array of strings, an array of token ids or an array of token-id arrays, got ${typeName(v)}`);
  if (v.length === 0) throw bad('prompt', "'prompt' must not be an empty array");
  if (v.every((x) => typeof x === 'string')) return (v as string[]).map((text) => ({ kind: 'text', text }));
  if (v.every((x) => typeof x === 'number')) return [{ kind: 'ids', ids: tokenIds(v, vocab, 'prompt') }];
  if (v.every((x) => Array.isArray(x))) {
    return (v as unknown[][]).map((ids, i) => {
      if (ids.length === 0) throw bad('prompt', `prompt[${i}] must not be an empty token array`);
      return { kind: 'ids', ids: tokenIds(ids, vocab, `prompt[${i}]`) };
    });
  }
  throw bad('prompt', "'prompt' must not mix strings, token ids and token arrays");
}

export function parseCompletionRequest(body: unknown, lim: Limits): CompletionRequest {
  const o = requireObject(body);
  rejectUnknown(o, COMPLETION_FIELDS);
  const model = str(o, 'model');
  const prompts = parsePrompt(o.prompt, lim.vocabSize);
  const echo = bool(o, 'echo') ?? false;
  const maxTokens = int(o, 'max_tokens', 0, 1_000_000) ?? 16;
  const temperature = num(o, 'temperature', (x) => x >= 0 && x <= 100, 'between 0 and 100') ?? 1;
  const topP = num(o, 'top_p', (x) => x > 0 && x <= 1, 'in (0, 1]');
  const topK = int(o, 'top_k', -1, 1_000_000);
  const n = int(o, 'n', 1, lim.maxN) ?? 1;
  const bestOf = int(o, 'best_of', 1, lim.maxN);
  if (bestOf !== undefined && bestOf !== n) throw bad('best_of', `'best_of' other than n (${n}) is not supported`);
  if (prompts.length * n > lim.maxRows) throw bad('n', `prompts × n = ${prompts.length * n} exceeds the limit of ${lim.maxRows} completions per request`);
  let stop: string[] = [];
  if (present(o.stop)) {
    if (typeof o.stop === 'string') stop = [o.stop];
    else if (Array.isArray(o.stop) && o.stop.every((s) => typeof s === 'string')) stop = o.stop as string[];
    else throw bad('stop', "'stop' must be a string or an array of strings");
    if (stop.length > lim.maxStop) throw bad('stop', `at most ${lim.maxStop} stop sequences are supported, got ${stop.length}`);
    stop = stop.filter((s) => s !== '');
  }
  const logprobs = int(o, 'logprobs', 0, lim.maxLogprobs);
  const stream = bool(o, 'stream') ?? false;
  let includeUsage = false;
  if (present(o.stream_options)) {
    if (!stream) throw bad('stream_options', "'stream_options' is only allowed with stream: true");
    const so = o.stream_options;
    if (typeof so !== 'object' || so === null || Array.isArray(so)) throw bad('stream_options', "'stream_options' must be an object");
    rejectUnknown(so as Obj, new Set(['include_usage', 'continuous_usage_stats']));
    includeUsage = bool(so as Obj, 'include_usage') ?? false;
  }
  const seed = int(o, 'seed', Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
  const suffix = str(o, 'suffix');
  if (suffix) throw bad('suffix', "'suffix' (insertion) is not supported");
  for (const k of ['presence_penalty', 'frequency_penalty']) {
    const v = num(o, k, (x) => x >= -2 && x <= 2, 'between -2 and 2');
    if (v) throw bad(k, `'${k}' other than 0 is not supported`);
  }
  if (present(o.logit_bias)) {
    const lb = o.logit_bias;
    if (typeof lb !== 'object' || lb === null || Array.isArray(lb)) throw bad('logit_bias', "'logit_bias' must be an object");
    if (Object.keys(lb).length > 0) throw bad('logit_bias', "'logit_bias' is not supported");
  }
  str(o, 'user');
  let temperatureSchedule: CompletionRequest['temperatureSchedule'];
  if (present(o.temperature_schedule)) {
    const ts = o.temperature_schedule;
    if (typeof ts !== 'object' || ts === null || Array.isArray(ts)) throw bad('temperature_schedule', "'temperature_schedule' must be an object {start, end, over}");
    const t = ts as Obj;
    rejectUnknown(t, new Set(['start', 'end', 'over']));
    const ok = (x: unknown) => typeof x === 'number' && Number.isFinite(x) && x > 0 && x <= 1e6;
    if (!ok(t.start) || !ok(t.end) || !ok(t.over)) throw bad('temperature_schedule', "'temperature_schedule' needs positive numbers start, end and over");
    temperatureSchedule = { start: t.start as number, end: t.end as number, over: t.over as number };
  }
  return {
    ...(model !== undefined ? { model } : {}),
    prompts,
    maxTokens,
    temperature,
    ...(topP !== undefined ? { topP } : {}),
    ...(topK !== undefined && topK > 0 ? { topK } : {}),
    n,
    stop,
    echo,
    ...(logprobs !== undefined ? { logprobs } : {}),
    stream,
    includeUsage,
    ...(seed !== undefined ? { seed } : {}),
    ...(temperatureSchedule ? { temperatureSchedule } : {}),
  };
}

/** POST /tokenize (vLLM's completion form): {model?, prompt: string, add_special_tokens?, return_token_strs?}. */
export function parseTokenizeRequest(body: unknown): { model?: string; prompt: string; returnTokenStrs: boolean } {
  const o = requireObject(body);
  if (present(o.messages)) throw bad('messages', "'messages' (chat tokenization) is not supported; send 'prompt' as a string");
  rejectUnknown(o, new Set(['model', 'prompt', 'add_special_tokens', 'return_token_strs']));
  const model = str(o, 'model');
  const prompt = str(o, 'prompt');
  if (prompt === undefined) throw bad('prompt', "'prompt' is required");
  bool(o, 'add_special_tokens');
  const returnTokenStrs = bool(o, 'return_token_strs') ?? false;
  return { ...(model !== undefined ? { model } : {}), prompt, returnTokenStrs };
}

/** POST /detokenize (vLLM's shape): {model?, tokens: number[]}. */
export function parseDetokenizeRequest(body: unknown, vocab: number): { model?: string; tokens: number[] } {
  const o = requireObject(body);
  rejectUnknown(o, new Set(['model', 'tokens']));
  const model = str(o, 'model');
  if (!present(o.tokens)) throw bad('tokens', "'tokens' is required");
  if (!Array.isArray(o.tokens)) throw bad('tokens', `'tokens' must be an array of token ids, got ${typeName(o.tokens)}`);
  o.tokens.forEach((x, i) => {
    if (typeof x !== 'number' || !Number.isInteger(x) || x < 0 || x >= vocab) throw bad('tokens', `tokens[${i}] = ${JSON.stringify(x)} is not a token id in 0..${vocab - 1}`);
  });
  return { ...(model !== undefined ? { model } : {}), tokens: o.tokens as number[] };
}
