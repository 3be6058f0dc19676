// LanguageModel over an OpenAI-compatible /v1/completions server (vLLM, llama.cpp's server, `tessera serve`):
// log-likelihoods from echoed prompts with logprobs, sampling with n/stop/seed. Requests run concurrently up to a
// limit, each with a timeout (AbortController), and are retried with exponential backoff and jitter on network
// errors, timeouts, 429 and 5xx (never on other 4xx). Errors name the method, URL, HTTP status and the server's message.
//
// With a local tokenizer (the server's), log-likelihood requests send token ids (exact lm-evaluation-harness
// semantics, truncated from the left to the context). Without one, they send text and find the continuation's tokens
// by text_offset ≥ length of the context (tokenizer-agnostic); tokenize/detokenize then use vLLM's /tokenize and
// /detokenize endpoints.

import type { Tokenizer } from '../tokenizer/index.js';
import {
  encodePair,
  moveTrailingWhitespace,
  type Completion,
  type FinishReason,
  type GenerateRequestOptions,
  type LanguageModel,
  type LoglikelihoodRequest,
  type LoglikelihoodResult,
  type RollingResult,
  type ScoreResult,
} from './language-model.js';

export interface OpenAIClientOptions {
  /** Server root, e.g. http://127.0.0.1:8000 (a trailing /v1 is accepted). */
  baseUrl: string;
  model: string;
  /** The server's tokenizer, for tokenize/detokenize and token-exact log-likelihoods. */
  tokenizer?: Tokenizer;
  /** Requests in flight at once (default 4). */
  concurrency?: number;
  /** Retries after the first attempt (default 3). */
  maxRetries?: number;
  /** Per-attempt timeout (default 60 000 ms). */
  timeoutMs?: number;
  /** First backoff delay; doubles each retry, with ±50% jitter, capped by retryMaxMs (defaults 500 / 8000 ms). */
  retryBaseMs?: number;
  retryMaxMs?: number;
  apiKey?: string;
  /** Context length, when the server's /v1/models does not report it. */
  maxContext?: number;
}

/** An HTTP or network failure of a request, after retries. */
export class OpenAIClientError extends Error {
  constructor(
    message: string,
    readonly url: string,
    readonly status?: number,
    readonly serverMessage?: string,
    readonly param?: string | null,
  ) {
    super(message);
  }
}

interface CompletionsLogprobs {
  tokens: string[];
  token_logprobs: (number | null)[];
  top_logprobs: (Record<string, number> | null)[] | null;
  text_offset: number[];
}

interface CompletionsResponse {
  choices: { index: number; text: string; logprobs: CompletionsLogprobs | null; finish_reason: string | null }[];
  usage?: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
}

const EOT_TEXT = '<|endoftext|>';

class Semaphore {
  private waiting: (() => void)[] = [];
  private active = 0;
  constructor(private readonly limit: number) {}
  async use<R>(fn: () => Promise<R>): Promise<R> {
    if (this.active >= this.limit) await new Promise<void>((r) => this.waiting.push(r));
    else this.active++;
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function codePointLength(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

export class OpenAICompletionsModel implements LanguageModel {
  readonly name: string;
  readonly baseUrl: string;
  private readonly tok: Tokenizer | undefined;
  private readonly sem: Semaphore;
  private readonly maxRetries: number;
  private readonly timeoutMs: number;
  private readonly retryBaseMs: number;
  private readonly retryMaxMs: number;
  private readonly apiKey: string | undefined;
  private contextPromise: Promise<number | undefined> | undefined;
  private readonly fixedContext: number | undefined;
  /** 0, or 1 once the server refused max_tokens 0 (log-likelihood requests then generate one token and drop it). */
  private maxTokensFloor = 0;
  private readonly inflight = new Set<AbortController>();

  constructor(o: OpenAIClientOptions) {
    this.baseUrl = o.baseUrl.replace(/\/+$/, '').replace(/\/v1$/, '');
    this.name = o.model;
    this.tok = o.tokenizer;
    const pos = (v: number | undefined, d: number, what: string, min = 1) => {
      const x = v ?? d;
      if (!Number.isFinite(x) || x < min) throw new Error(`OpenAICompletionsModel: ${what} must be ≥ ${min}, got ${x}`);
      return x;
    };
    this.sem = new Semaphore(Math.floor(pos(o.concurrency, 4, 'concurrency')));
    this.maxRetries = Math.floor(pos(o.maxRetries, 3, 'maxRetries', 0));
    this.timeoutMs = pos(o.timeoutMs, 60_000, 'timeoutMs');
    this.retryBaseMs = pos(o.retryBaseMs, 500, 'retryBaseMs', 0);
    this.retryMaxMs = pos(o.retryMaxMs, 8000, 'retryMaxMs', 0);
    this.apiKey = o.apiKey;
    this.fixedContext = o.maxContext;
  }

  /** One HTTP request with timeout and retries; returns the parsed JSON body. */
  async request<R = unknown>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<R> {
    const url = `${this.baseUrl}${path}`;
    return this.sem.use(async () => {
      let last: { error: OpenAIClientError; retryAfterMs?: number } | undefined;
      const attempts = this.maxRetries + 1;
      for (let attempt = 0; attempt < attempts; attempt++) {
        if (attempt > 0) await sleep(this.backoff(attempt, last?.retryAfterMs));
        const r = await this.attempt<R>(method, url, body);
        if ('value' in r) return r.value;
        last = r;
      }
      const e = last!.error;
      throw new OpenAIClientError(`${e.message} (gave up after ${attempts} attempt${attempts === 1 ? '' : 's'})`, url, e.status, e.serverMessage, e.param);
    });
  }

  /** One attempt: the parsed body, a retryable failure, or a thrown final error (other 4xx, bad body, aborted). */
  private async attempt<R>(
    method: string,
    url: string,
    body: unknown,
  ): Promise<{ value: R } | { error: OpenAIClientError; retryAfterMs?: number }> {
    const what = `${method} ${url}`;
    const ac = new AbortController();
    this.inflight.add(ac);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      ac.abort();
    }, this.timeoutMs);
    const failure = (e: unknown) => {
      if (timedOut) return { error: new OpenAIClientError(`${what}: no answer within ${this.timeoutMs} ms (timed out)`, url) };
      if ((e as Error).name === 'AbortError') throw new OpenAIClientError(`${what}: aborted (client closed)`, url);
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      return { error: new OpenAIClientError(`${what}: network error: ${cause?.code ?? cause?.message ?? (e as Error).message}`, url) };
    };
    try {
      const headers: Record<string, string> = { Accept: 'application/json' };
      if (body !== undefined) headers['Content-Type'] = 'application/json';
      if (this.apiKey) headers.Authorization = `Bearer ${this.apiKey}`;
      let res: Response;
      let text: string;
      try {
        res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: ac.signal });
        text = await res.text();
      } catch (e) {
        return failure(e);
      }
      if (res.ok) {
        try {
          return { value: JSON.parse(text) as R };
        } catch {
          throw new OpenAIClientError(`${what}: HTTP ${res.status} but the body is not JSON: ${text.slice(0, 200)}`, url, res.status);
        }
      }
      let serverMessage = text.slice(0, 500);
      let param: string | null | undefined;
      try {
        const j = JSON.parse(text) as { error?: { message?: string; param?: string | null } | string; message?: string; detail?: unknown };
        if (typeof j.error === 'object' && j.error?.message) {
          serverMessage = j.error.message;
          param = j.error.param;
        } else if (typeof j.error === 'string') serverMessage = j.error;
        else if (typeof j.message === 'string') serverMessage = j.message;
        else if (j.detail !== undefined) serverMessage = typeof j.detail === 'string' ? j.detail : JSON.stringify(j.detail);
      } catch {
        // not JSON: keep the text
      }
      const error = new OpenAIClientError(`${what}: HTTP ${res.status}: ${serverMessage}`, url, res.status, serverMessage, param);
      if (res.status === 429 || res.status >= 500) return { error, retryAfterMs: retryAfter(res.headers.get('retry-after')) };
      throw error;
    } finally {
      clearTimeout(timer);
      this.inflight.delete(ac);
    }
  }

  /** Exponential backoff with ±50% jitter; a server's Retry-After is honoured up to retryMaxMs. */
  private backoff(attempt: number, retryAfterMs: number | undefined): number {
    const base = Math.min(this.retryMaxMs, this.retryBaseMs * 2 ** (attempt - 1));
    return Math.min(this.retryMaxMs, Math.max(base * (0.5 + Math.random()), retryAfterMs ?? 0));
  }

  private completions(body: Record<string, unknown>): Promise<CompletionsResponse> {
    return this.request<CompletionsResponse>('POST', '/v1/completions', { model: this.name, ...body });
  }

  /** A completions request for scoring (echo, logprobs, temperature 0, no generated tokens if the server allows it). */
  private async echo(prompt: string | number[], logprobs: number): Promise<{ lp: CompletionsLogprobs; promptTokens: number }> {
    for (;;) {
      const floor = this.maxTokensFloor;
      try {
        const r = await this.completions({ prompt, echo: true, max_tokens: floor, logprobs, temperature: 0 });
        const c = r.choices?.[0];
        if (!c?.logprobs) throw new OpenAIClientError(`POST ${this.baseUrl}/v1/completions: the response has no logprobs (does the server support echo with logprobs?)`, `${this.baseUrl}/v1/completions`);
        const lp = c.logprobs;
        const promptTokens = r.usage?.prompt_tokens ?? lp.tokens.length - floor;
        return { lp, promptTokens };
      } catch (e) {
        const refusedZero =
          floor === 0 && e instanceof OpenAIClientError && e.status === 400 && (e.param === 'max_tokens' || /max_tokens/i.test(e.serverMessage ?? ''));
        if (!refusedZero) throw e;
        this.maxTokensFloor = 1;
      }
    }
  }

  /**
   * Refuse, up front, a server that does not return log-probabilities for the prompt's own tokens (echo + logprobs):
   * llama.cpp's server, for one, returns them for generated tokens only, and a harness that sums what is there scores
   * every choice 0 and reports chance.
   */
  async checkPromptLogprobs(): Promise<void> {
    const probe = 'The quick brown fox jumps over the lazy dog.';
    const prompt = this.tok ? this.tok.encode(probe) : probe;
    const url = `${this.baseUrl}/v1/completions`;
    let lp: CompletionsLogprobs;
    let promptTokens: number;
    try {
      ({ lp, promptTokens } = await this.echo(prompt, 1));
    } catch (e) {
      throw new Error(`${url} cannot score prompts: ${(e as Error).message}. Log-likelihood and multiple-choice tasks need a server that echoes the prompt with logprobs (vLLM, tessera serve)`);
    }
    const n = Array.isArray(prompt) ? prompt.length : promptTokens;
    const scored = lp.token_logprobs.slice(1, n).filter((v) => typeof v === 'number').length;
    if (lp.tokens.length < n || scored < n - 1) {
      throw new Error(
        `${url} returned log-probabilities for ${scored} of the prompt's ${n - 1} scorable tokens (echo with logprobs is not supported): ` +
          'log-likelihood and multiple-choice tasks cannot be scored against it (every choice would score 0 and the result would be chance). ' +
          'Use a server that returns prompt logprobs (vLLM, tessera serve), or run only generate_until tasks',
      );
    }
  }

  async maxContext(): Promise<number> {
    const n = await this.knownContext();
    if (n === undefined) throw new Error(`${this.baseUrl}/v1/models does not report a context length for '${this.name}'; pass maxContext`);
    return n;
  }

  /** The context length from options or /v1/models (vLLM's max_model_len, llama.cpp's meta.n_ctx_train), if known. */
  private knownContext(): Promise<number | undefined> {
    if (this.fixedContext !== undefined) return Promise.resolve(this.fixedContext);
    this.contextPromise ??= this.request<{ data?: { id: string; max_model_len?: number; meta?: { n_ctx_train?: number; n_ctx?: number } }[] }>('GET', '/v1/models')
      .then((r) => {
        const m = r.data?.find((d) => d.id === this.name) ?? (r.data?.length === 1 ? r.data[0] : undefined);
        const n = m?.max_model_len ?? m?.meta?.n_ctx ?? m?.meta?.n_ctx_train;
        return typeof n === 'number' && n > 0 ? n : undefined;
      })
      .catch((e) => {
        this.contextPromise = undefined;
        throw e;
      });
    return this.contextPromise;
  }

  async tokenize(text: string): Promise<number[]> {
    if (this.tok) return this.tok.encode(text);
    const r = await this.request<{ tokens: number[] }>('POST', '/tokenize', { model: this.name, prompt: text, add_special_tokens: false });
    return r.tokens;
  }

  async detokenize(ids: number[]): Promise<string> {
    if (this.tok) return this.tok.decode(ids);
    const r = await this.request<{ prompt: string }>('POST', '/detokenize', { model: this.name, tokens: ids });
    return r.prompt;
  }

  async loglikelihood(reqs: LoglikelihoodRequest[]): Promise<LoglikelihoodResult[]> {
    // one bad request gets its own error; the others still get their results
    return Promise.all(
      reqs.map((r, i) =>
        (r.continuation === ''
          ? Promise.reject(new Error('the continuation is empty (nothing to score)'))
          : this.tok
            ? this.loglikelihoodIds(r, this.tok)
            : this.loglikelihoodText(r)
        ).catch((err: Error) => ({ logprob: NaN, isGreedy: false, error: `request ${i}: ${err.message}` })),
      ),
    );
  }

  private async loglikelihoodIds(r: LoglikelihoodRequest, tok: Tokenizer): Promise<LoglikelihoodResult> {
    const pair = encodePair(tok, r.context, r.continuation);
    if (pair.continuation.length === 0) throw new Error('the continuation is empty (nothing to score)');
    let all = [...pair.context, ...pair.continuation];
    const ctxMax = await this.knownContext().catch(() => undefined);
    const limit = ctxMax === undefined ? undefined : ctxMax - this.maxTokensFloor;
    if (limit !== undefined && all.length > limit) all = all.slice(all.length - limit);
    const first = all.length - pair.continuation.length;
    if (first < 1) throw new Error(`loglikelihood: a continuation of ${pair.continuation.length} tokens does not fit the context (${ctxMax})`);
    const { lp } = await this.echo(all, 1);
    return sumRange(lp, first, all.length);
  }

  private async loglikelihoodText(r: LoglikelihoodRequest): Promise<LoglikelihoodResult> {
    let { context, continuation } = r.context === '' ? { context: EOT_TEXT, continuation: r.continuation } : moveTrailingWhitespace(r.context, r.continuation);
    if (context === '') context = EOT_TEXT;
    if (continuation === '') throw new Error('the continuation is empty (nothing to score)');
    const prompt = context + continuation;
    const { lp, promptTokens } = await this.echo(prompt, 1);
    const boundary = codePointLength(context);
    let first = lp.text_offset.findIndex((off, i) => i < promptTokens && off >= boundary);
    if (first < 0) first = promptTokens;
    if (first < 1) throw new Error('loglikelihood: the server did not return a token before the continuation');
    return sumRange(lp, first, promptTokens);
  }

  async loglikelihoodRolling(texts: string[]): Promise<RollingResult[]> {
    return Promise.all(texts.map((t) => this.rolling(t)));
  }

  private async rolling(text: string): Promise<RollingResult> {
    if (!this.tok) {
      // text prompt after the end-of-text marker (the server must parse it as its special token)
      if (text === '') return { logprob: 0, tokens: 0 };
      const { lp, promptTokens } = await this.echo(EOT_TEXT + text, 0);
      const boundary = codePointLength(EOT_TEXT);
      let first = lp.text_offset.findIndex((off, i) => i < promptTokens && off >= boundary);
      if (first < 1) first = 1;
      const s = sumRange(lp, first, promptTokens);
      return { logprob: s.logprob, tokens: promptTokens - first };
    }
    const ids = this.tok.encode(text);
    const eot = this.tok.eotId;
    const full = eot !== undefined ? [eot, ...ids] : ids;
    if (full.length < 2) return { logprob: 0, tokens: 0 };
    const ctx = await this.knownContext().catch(() => undefined);
    const L = ctx === undefined ? full.length : Math.max(2, ctx - this.maxTokensFloor);
    // windows of ≤ L tokens; after the first, each starts half a window before the next unscored token
    const windows: { start: number; from: number; end: number }[] = [];
    for (let next = 1, guard = 0; next < full.length; guard++) {
      if (guard > full.length) throw new Error('internal error: rolling windows made no progress');
      const start = next === 1 ? 0 : next - Math.floor(L / 2);
      const end = Math.min(full.length, start + L);
      windows.push({ start, from: next, end });
      next = end;
    }
    const parts = await Promise.all(
      windows.map(async (w) => {
        const { lp } = await this.echo(full.slice(w.start, w.end), 0);
        return sumRange(lp, w.from - w.start, w.end - w.start).logprob;
      }),
    );
    return { logprob: parts.reduce((a, b) => a + b, 0), tokens: full.length - 1 };
  }

  async score(text: string): Promise<ScoreResult> {
    const ids = await this.tokenize(text);
    if (ids.length === 0) return { tokens: [], logprobs: [] };
    const { lp } = await this.echo(ids, 0);
    const logprobs = ids.map((_, i) => (i === 0 ? null : (lp.token_logprobs[i] ?? null)));
    return { tokens: ids, logprobs };
  }

  async generate(prompts: string[], o: GenerateRequestOptions): Promise<Completion[][]> {
    const n = o.n ?? 1;
    return Promise.all(
      prompts.map(async (prompt) => {
        const body: Record<string, unknown> = { prompt, max_tokens: o.maxTokens, n };
        if (o.temperature !== undefined) body.temperature = o.temperature;
        if (o.topP !== undefined) body.top_p = o.topP;
        if (o.topK !== undefined && o.topK > 0) body.top_k = o.topK;
        if (o.stop && o.stop.length > 0) body.stop = o.stop;
        if (o.seed !== undefined) body.seed = o.seed;
        if (o.temperatureSchedule) body.temperature_schedule = o.temperatureSchedule;
        const r = await this.completions(body);
        const choices = [...(r.choices ?? [])].sort((a, b) => a.index - b.index);
        if (choices.length !== n) throw new Error(`POST ${this.baseUrl}/v1/completions: expected ${n} choices, got ${choices.length}`);
        return choices.map((c) => ({ text: c.text, finishReason: (c.finish_reason === 'length' ? 'length' : 'stop') as FinishReason }));
      }),
    );
  }

  /** Abort requests in flight (they fail with "aborted"); later calls still work. */
  async close(): Promise<void> {
    for (const ac of this.inflight) ac.abort();
  }
}

function retryAfter(h: string | null): number | undefined {
  if (!h) return undefined;
  const s = Number(h);
  if (Number.isFinite(s) && s >= 0) return s * 1000;
  const t = Date.parse(h);
  return Number.isFinite(t) ? Math.max(0, t - Date.now()) : undefined;
}

/** Sum of token_logprobs[from, to) and whether each of those tokens is the most likely one in top_logprobs. */
function sumRange(lp: CompletionsLogprobs, from: number, to: number): LoglikelihoodResult {
  let logprob = 0;
  let isGreedy = true;
  for (let i = from; i < to; i++) {
    const v = lp.token_logprobs[i];
    if (typeof v !== 'number') throw new Error(`the server returned no log-probability for token ${i} (${JSON.stringify(lp.tokens[i])})`);
    logprob += v;
    const top = lp.top_logprobs?.[i];
    if (top) {
      let bestKey: string | undefined;
      let best = -Infinity;
      for (const [k, x] of Object.entries(top)) {
        if (x > best) {
          best = x;
          bestKey = k;
        }
      }
      if (bestKey !== lp.tokens[i] && v < best - 1e-6) isGreedy = false;
    }
  }
  return { logprob, isGreedy, tokens: to - from };
}
