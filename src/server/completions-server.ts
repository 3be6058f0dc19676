// An OpenAI-compatible completions server over a local model (node:http, no framework): GET /v1/models,
// POST /v1/completions (prompt as text or token ids, max_tokens, temperature, top_p, top_k, n, stop, echo, logprobs,
// seed, stream as server-sent events), vLLM's POST /tokenize and /detokenize, GET /health.
//
// Response shapes follow OpenAI's legacy completions and vLLM: logprobs = {tokens, token_logprobs, top_logprobs,
// text_offset} with tokens as strings ("bytes:\xNN" for tokens that are not whole UTF-8 characters), text_offset in
// characters (code points) of the returned text, which starts with the prompt when echo is set; the first prompt
// token has null log-probability. top_logprobs holds the `logprobs` most likely tokens plus the chosen one.
//
// Bad input never stops the server: every invalid request is answered 400 (404 / 405 / 413 for paths, methods, sizes)
// with {"error": {"message", "type": "invalid_request_error", "param", "code"}}. Unexpected failures are 500s.
//
// Deviations: prompts longer than the context are scored whole (sliding windows) for echo, and generation sees the
// last context - 1 tokens (a warning in the `warnings` field and the X-Tessera-Warning header). In a stream, each
// choice's logprobs come in its final chunk (the echoed prompt's in its first).

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import type { TokenLevelModel, TokenGeneration, TopLogprob } from '../lm/language-model.js';
import type { ByteTokenizer } from '../tokenizer/index.js';
import { ApiError, DEFAULT_LIMITS, parseCompletionRequest, parseDetokenizeRequest, parseTokenizeRequest, type CompletionRequest, type Limits } from './validate.js';

export interface ServerOptions {
  model: TokenLevelModel;
  /** 0 = an ephemeral port. Default 8000. */
  port?: number;
  host?: string;
  /** Largest accepted request body (default 1 MiB). */
  maxBodyBytes?: number;
  /** When set, requests (except /health) need `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  limits?: Partial<Omit<Limits, 'vocabSize'>>;
  /** One line per request (method, path, status, milliseconds). */
  log?: (line: string) => void;
}

export interface RunningServer {
  url: string;
  host: string;
  port: number;
  server: Server;
  /** Stop accepting requests, abort running generations and close every connection. */
  close(): Promise<void>;
}

/** Number of Unicode code points (Python's len), the unit of text_offset. */
export function codePointLength(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xdc00 || c > 0xdfff || i === 0 || s.charCodeAt(i - 1) < 0xd800 || s.charCodeAt(i - 1) > 0xdbff) n++;
  }
  return n;
}

/** The display strings of tokens: the token's text, or "bytes:\xNN…" when its bytes are not complete UTF-8. */
export class TokenStrings {
  private cache = new Map<number, string>();
  private fatal = new TextDecoder('utf-8', { fatal: true });
  constructor(readonly tok: ByteTokenizer) {}
  get(id: number): string {
    let s = this.cache.get(id);
    if (s === undefined) {
      const bytes = this.tok.decodeBytes([id]);
      try {
        s = this.fatal.decode(bytes);
      } catch {
        s = `bytes:${Array.from(bytes, (b) => `\\x${b.toString(16).padStart(2, '0')}`).join('')}`;
      }
      if (this.cache.size < 200_000) this.cache.set(id, s);
    }
    return s;
  }
}

/** Character offsets (code points) of each token in decode(ids), starting at `base`. */
export function textOffsets(tok: ByteTokenizer, ids: number[], base: number): number[] {
  const dec = new TextDecoder('utf-8');
  const out: number[] = [];
  let at = base;
  for (const id of ids) {
    out.push(at);
    at += codePointLength(dec.decode(tok.decodeBytes([id]), { stream: true }));
  }
  return out;
}

interface LogprobsBlock {
  tokens: string[];
  token_logprobs: (number | null)[];
  top_logprobs: (Record<string, number> | null)[];
  text_offset: number[];
}

function logprobsBlock(
  strings: TokenStrings,
  ids: number[],
  lps: (number | null)[],
  tops: (TopLogprob[] | null)[] | undefined,
  offsets: number[],
): LogprobsBlock {
  const tokens = ids.map((id) => strings.get(id));
  const top_logprobs = ids.map((id, i) => {
    const lp = lps[i];
    if (lp === null || lp === undefined) return null;
    const d: Record<string, number> = {};
    for (const t of tops?.[i] ?? []) {
      if (t.id >= strings.tok.vocabSize) continue; // model vocabulary padding past the tokenizer's
      const s = strings.get(t.id);
      if (!(s in d)) d[s] = t.logprob;
    }
    if (!(tokens[i]! in d)) d[tokens[i]!] = lp;
    return d;
  });
  return { tokens, token_logprobs: ids.map((_, i) => lps[i] ?? null), top_logprobs, text_offset: offsets };
}

function concatBlocks(a: LogprobsBlock | undefined, b: LogprobsBlock): LogprobsBlock {
  if (!a) return b;
  return {
    tokens: [...a.tokens, ...b.tokens],
    token_logprobs: [...a.token_logprobs, ...b.token_logprobs],
    top_logprobs: [...a.top_logprobs, ...b.top_logprobs],
    text_offset: [...a.text_offset, ...b.text_offset],
  };
}

const finishReason = (f: TokenGeneration['finishReason']) => (f === 'length' ? 'length' : 'stop');

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** Read the body as JSON; 413 past the limit (the rest of the body is drained, not buffered), 400 when not JSON. */
function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      req.resume();
      reject(new ApiError(413, `request body of ${declared} bytes exceeds the limit of ${limit} bytes`, 'body', 'invalid_request_error', 'request_too_large'));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (f: () => void) => {
      if (!settled) {
        settled = true;
        f();
      }
    };
    req.on('data', (c: Buffer) => {
      if (settled) return;
      size += c.length;
      if (size > limit) {
        chunks.length = 0;
        settle(() => reject(new ApiError(413, `request body exceeds the limit of ${limit} bytes`, 'body', 'invalid_request_error', 'request_too_large')));
        return;
      }
      chunks.push(c);
    });
    req.on('error', (e) => settle(() => reject(new ApiError(400, `cannot read the request body: ${e.message}`, 'body'))));
    req.on('close', () => settle(() => reject(new ApiError(400, 'the request body ended early (client went away)', 'body'))));
    req.on('end', () =>
      settle(() => {
        const text = Buffer.concat(chunks).toString('utf8');
        if (text.trim() === '') return reject(new ApiError(400, 'the request body is empty; expected a JSON object', 'body'));
        try {
          resolve(JSON.parse(text));
        } catch (e) {
          reject(new ApiError(400, `the request body is not valid JSON: ${(e as Error).message}`, 'body'));
        }
      }),
    );
  });
}

type Handler = (req: IncomingMessage, res: ServerResponse, ctx: { signal: AbortSignal; path: string }) => Promise<void>;

export async function startServer(o: ServerOptions): Promise<RunningServer> {
  const lm = o.model;
  const tok = lm.tokenizer;
  const host = o.host ?? '127.0.0.1';
  const maxBody = o.maxBodyBytes ?? 1 << 20;
  const limits: Limits = { ...DEFAULT_LIMITS, ...o.limits, vocabSize: tok.vocabSize };
  const strings = new TokenStrings(tok);
  const S = lm.contextLength;
  const created = Math.floor(Date.now() / 1000);
  const modelCard = { id: lm.name, object: 'model', created, owned_by: 'tessera', root: lm.name, parent: null, max_model_len: S };
  const running = new Set<AbortController>();

  const checkModel = (m: string | undefined) => {
    if (m !== undefined && m !== lm.name) throw new ApiError(404, `the model '${m}' does not exist; this server serves '${lm.name}'`, 'model', 'invalid_request_error', 'model_not_found');
  };

  const encodePrompt = (text: string, i: number): number[] => {
    try {
      return tok.encode(text);
    } catch (e) {
      throw new ApiError(400, `prompt ${i}: ${(e as Error).message}`, 'prompt');
    }
  };

  const completions: Handler = async (req, res, { signal }) => {
    const r: CompletionRequest = parseCompletionRequest(await readJson(req, maxBody), limits);
    checkModel(r.model);
    const promptIds = r.prompts.map((p, i) => (p.kind === 'ids' ? p.ids : encodePrompt(p.text, i)));
    const warnings: string[] = [];
    if (r.maxTokens > 0) {
      promptIds.forEach((ids, i) => {
        if (ids.length > S - 1) warnings.push(`prompt ${i} has ${ids.length} tokens, more than the context allows (${S}); generation sees its last ${S - 1}`);
      });
    }
    const id = `cmpl-${randomUUID().replace(/-/g, '')}`;
    const now = Math.floor(Date.now() / 1000);
    const promptTexts = promptIds.map((ids) => tok.decode(ids));
    const promptLen = promptTexts.map(codePointLength);
    const wantLp = r.logprobs !== undefined;
    const k = r.logprobs ?? 0;

    // echoed prompt log-probabilities (scored whole, with sliding windows past the context)
    const promptBlocks: (LogprobsBlock | undefined)[] = [];
    for (const ids of promptIds) {
      if (!(r.echo && wantLp)) {
        promptBlocks.push(undefined);
        continue;
      }
      const s = await lm.scoreTokens(ids, k, signal);
      promptBlocks.push(logprobsBlock(strings, ids, s.logprobs, s.top, textOffsets(tok, ids, 0)));
    }
    const usageOf = (rows: TokenGeneration[]) => {
      const prompt_tokens = promptIds.reduce((a, p) => a + p.length, 0);
      const completion_tokens = rows.reduce((a, g) => a + g.tokens.length, 0);
      return { prompt_tokens, completion_tokens, total_tokens: prompt_tokens + completion_tokens };
    };
    const completionBlock = (p: number, g: TokenGeneration) =>
      logprobsBlock(strings, g.tokens, g.tokenLogprobs ?? [], g.topLogprobs, textOffsets(tok, g.tokens, r.echo ? promptLen[p]! : 0));
    const genOpts = {
      maxTokens: r.maxTokens,
      temperature: r.temperature,
      topP: r.topP,
      topK: r.topK,
      stop: r.stop,
      n: r.n,
      seed: r.seed,
      temperatureSchedule: r.temperatureSchedule,
      logprobs: wantLp ? k : undefined,
      signal,
    };
    const headers: Record<string, string> = warnings.length > 0 ? { 'X-Tessera-Warning': warnings.join('; ').replace(/[^\x20-\x7e]/g, '?') } : {};

    if (!r.stream) {
      const { rows } = await lm.generateTokens(promptIds, genOpts);
      const choices = rows.map((g, index) => {
        const p = Math.floor(index / r.n);
        const text = (r.echo ? promptTexts[p]! : '') + g.text;
        const logprobs = wantLp ? concatBlocks(promptBlocks[p], completionBlock(p, g)) : null;
        return { index, text, logprobs, finish_reason: finishReason(g.finishReason), stop_reason: null };
      });
      const body = { id, object: 'text_completion', created: now, model: lm.name, choices, usage: usageOf(rows), ...(warnings.length ? { warnings } : {}) };
      sendJson(res, 200, body, headers);
      return;
    }

    // streaming: server-sent events, text as it is decoded (holding back what could be the start of a stop sequence)
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive', ...headers });
    const send = (data: unknown) => {
      if (!res.writableEnded && !res.destroyed) res.write(`data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`);
    };
    const chunk = (index: number, text: string, logprobs: LogprobsBlock | null, finish: string | null) =>
      send({ id, object: 'text_completion', created: now, model: lm.name, choices: [{ index, text, logprobs, finish_reason: finish, stop_reason: null }] });
    const rowsTotal = promptIds.length * r.n;
    if (r.echo) for (let index = 0; index < rowsTotal; index++) {
      const p = Math.floor(index / r.n);
      chunk(index, promptTexts[p]!, promptBlocks[p] ?? null, null);
    }
    const hold = r.stop.length > 0 ? Math.max(...r.stop.map((s) => s.length)) - 1 : 0;
    const seen = Array.from({ length: rowsTotal }, () => '');
    const sent = new Array<number>(rowsTotal).fill(0);
    const { rows } = await lm.generateTokens(promptIds, {
      ...genOpts,
      onText: (row, text) => {
        seen[row] += text;
        let upto = seen[row]!.length - hold;
        const c = seen[row]!.charCodeAt(upto - 1);
        if (c >= 0xd800 && c <= 0xdbff) upto--; // never split a surrogate pair across chunks
        if (upto > sent[row]!) {
          chunk(row, seen[row]!.slice(sent[row]!, upto), null, null);
          sent[row] = upto;
        }
      },
    });
    rows.forEach((g, index) => {
      const p = Math.floor(index / r.n);
      const rest = g.text.slice(Math.min(sent[index]!, g.text.length));
      chunk(index, rest, wantLp ? completionBlock(p, g) : null, finishReason(g.finishReason));
    });
    if (r.includeUsage) send({ id, object: 'text_completion', created: now, model: lm.name, choices: [], usage: usageOf(rows) });
    send('[DONE]');
    res.end();
  };

  const models: Handler = async (_req, res, { path }) => {
    if (path === '/v1/models') return sendJson(res, 200, { object: 'list', data: [modelCard] });
    const raw = path.slice('/v1/models/'.length);
    let want = raw;
    try {
      want = decodeURIComponent(raw);
    } catch {
      // malformed escapes: compare the raw text
    }
    if (want !== lm.name) throw new ApiError(404, `the model '${want}' does not exist; this server serves '${lm.name}'`, 'model', 'invalid_request_error', 'model_not_found');
    sendJson(res, 200, modelCard);
  };

  const tokenize: Handler = async (req, res) => {
    const r = parseTokenizeRequest(await readJson(req, maxBody));
    checkModel(r.model);
    const tokens = encodePrompt(r.prompt, 0);
    sendJson(res, 200, { count: tokens.length, max_model_len: S, tokens });
  };

  const detokenize: Handler = async (req, res) => {
    const r = parseDetokenizeRequest(await readJson(req, maxBody), tok.vocabSize);
    checkModel(r.model);
    sendJson(res, 200, { prompt: tok.decode(r.tokens) });
  };

  const health: Handler = async (_req, res) => sendJson(res, 200, { status: 'ok', model: lm.name });

  const route = (path: string): { methods: string[]; handler: Handler; auth: boolean } | undefined => {
    if (path === '/v1/completions') return { methods: ['POST'], handler: completions, auth: true };
    if (path === '/v1/models' || path.startsWith('/v1/models/')) return { methods: ['GET'], handler: models, auth: true };
    if (path === '/tokenize') return { methods: ['POST'], handler: tokenize, auth: true };
    if (path === '/detokenize') return { methods: ['POST'], handler: detokenize, auth: true };
    if (path === '/health') return { methods: ['GET'], handler: health, auth: false };
    return undefined;
  };

  const server = createServer((req, res) => {
    const t0 = Date.now();
    const ac = new AbortController();
    running.add(ac);
    res.on('close', () => {
      running.delete(ac);
      if (!res.writableFinished) ac.abort();
      o.log?.(`${req.method} ${req.url} ${res.statusCode} ${Date.now() - t0}ms${res.writableFinished ? '' : ' (client went away)'}`);
    });
    const fail = (e: unknown) => {
      const err = e instanceof ApiError ? e : new ApiError(500, `internal error: ${e instanceof Error ? e.message : String(e)}`, null, 'server_error');
      if (res.headersSent) {
        // mid-stream: report the error as an event and end the stream
        if (!res.writableEnded && !res.destroyed) res.end(`data: ${JSON.stringify(err.toJSON())}\n\ndata: [DONE]\n\n`);
        return;
      }
      sendJson(res, err.status, err.toJSON(), { ...(err.status === 413 ? { Connection: 'close' } : {}), ...err.headers });
    };
    try {
      const path = new URL(req.url ?? '/', 'http://localhost').pathname.replace(/\/+$/, '') || '/';
      const r = route(path);
      if (!r) throw new ApiError(404, `no route for ${req.method} ${path}; endpoints: GET /v1/models, POST /v1/completions, POST /tokenize, POST /detokenize, GET /health`, null, 'invalid_request_error', 'not_found');
      if (!r.methods.includes(req.method ?? '')) {
        req.resume();
        const e = new ApiError(405, `method ${req.method} is not allowed on ${path}; use ${r.methods.join(', ')}`, null, 'invalid_request_error', 'method_not_allowed');
        e.headers.Allow = r.methods.join(', ');
        throw e;
      }
      if (r.auth && o.apiKey !== undefined && req.headers.authorization !== `Bearer ${o.apiKey}`) {
        req.resume();
        throw new ApiError(401, 'missing or wrong API key (Authorization: Bearer …)', null, 'authentication_error', 'invalid_api_key');
      }
      r.handler(req, res, { signal: ac.signal, path }).catch(fail);
    } catch (e) {
      req.resume();
      fail(e);
    }
  });
  server.keepAliveTimeout = 5000;
  server.headersTimeout = 30_000;
  server.requestTimeout = 300_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 8000, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const urlHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${urlHost}:${addr.port}`,
    host: addr.address,
    port: addr.port,
    server,
    close() {
      closing ??= new Promise<void>((resolve) => {
        for (const ac of running) ac.abort();
        server.close(() => resolve());
        server.closeIdleConnections();
        const t = setTimeout(() => server.closeAllConnections(), 2000);
        t.unref();
      });
      return closing;
    },
  };
}
