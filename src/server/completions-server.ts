// An OpenAI-compatible completions server over a local model (node:http, no framework): GET /v1/models,
// POST /v1/completions (prompt as text or token ids, max_tokens, temperature, top_p, top_k, n, stop, echo, logprobs,
// seed, stream as server-sent events), vLLM's POST /tokenize, POST /detokenize and GET /tokenizer_info (what
// lm-evaluation-harness's tokenizer_backend=remote needs), GET /health. One handler per route in routes/; this file
// holds the options, the route table, authentication, logging and the server's lifecycle.
//
// Response shapes follow OpenAI's legacy completions and vLLM: logprobs = {tokens, token_logprobs, top_logprobs,
// text_offset} with tokens as strings ("bytes:\xNN" for tokens that are not whole UTF-8 characters), text_offset in
// characters (code points) of the returned text, which starts with the prompt when echo is set; the first prompt
// token has null log-probability. top_logprobs holds the `logprobs` most likely tokens plus the chosen one. Every
// generated token has an entry, and so has the end-of-text token that ends a row.
//
// Bad input never stops the server: every invalid request is answered 400 (404 / 405 / 413 for paths, methods, sizes)
// with {"error": {"message", "type": "invalid_request_error", "param", "code"}}. Unexpected failures are 500s.
//
// Deviations: prompts longer than the context are scored whole (sliding windows) for echo, and generation sees the
// last context - 1 tokens (a warning in the `warnings` field and the X-Tessera-Warning header). In a stream, each
// choice's logprobs come in its final chunk (the echoed prompt's in its first).

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TokenLevelModel } from '../lm/language-model.js';
import { createContext } from './context.js';
import { ApiError, sendError, type Handler } from './http.js';
import { completionsHandler } from './routes/completions.js';
import { healthHandler } from './routes/health.js';
import { modelsHandler } from './routes/models.js';
import { detokenizeHandler, tokenizeHandler, tokenizerInfoHandler } from './routes/tokenize.js';
import { DEFAULT_LIMITS, type Limits } from './validate.js';

export { codePointLength, TokenStrings, textOffsets } from './logprobs.js';

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

interface Route {
  /** An exact path, or a prefix ending in '/' that matches the paths below it. */
  path: string;
  methods: string[];
  handler: Handler;
  /** Whether the API key (when the server has one) is required. */
  auth: boolean;
}

export async function startServer(o: ServerOptions): Promise<RunningServer> {
  const host = o.host ?? '127.0.0.1';
  const limits: Limits = { ...DEFAULT_LIMITS, ...o.limits, vocabSize: o.model.tokenizer.vocabSize };
  const sc = createContext(o.model, limits, o.maxBodyBytes ?? 1 << 20);
  const running = new Set<AbortController>();

  const models = modelsHandler(sc);
  const routes: Route[] = [
    { path: '/v1/completions', methods: ['POST'], handler: completionsHandler(sc), auth: true },
    { path: '/v1/models', methods: ['GET'], handler: models, auth: true },
    { path: '/v1/models/', methods: ['GET'], handler: models, auth: true },
    { path: '/tokenize', methods: ['POST'], handler: tokenizeHandler(sc), auth: true },
    { path: '/detokenize', methods: ['POST'], handler: detokenizeHandler(sc), auth: true },
    { path: '/tokenizer_info', methods: ['GET'], handler: tokenizerInfoHandler(sc), auth: true },
    { path: '/health', methods: ['GET'], handler: healthHandler(sc), auth: false },
  ];
  const endpoints = routes.filter((r) => !r.path.endsWith('/')).map((r) => `${r.methods.join('|')} ${r.path}`).join(', ');
  const route = (path: string) => routes.find((r) => (r.path.endsWith('/') ? path.startsWith(r.path) : path === r.path));

  const server = createServer((req, res) => {
    const t0 = Date.now();
    const ac = new AbortController();
    running.add(ac);
    res.on('close', () => {
      running.delete(ac);
      if (!res.writableFinished) ac.abort();
      o.log?.(`${req.method} ${req.url} ${res.statusCode} ${Date.now() - t0}ms${res.writableFinished ? '' : ' (client went away)'}`);
    });
    try {
      const path = new URL(req.url ?? '/', 'http://localhost').pathname.replace(/\/+$/, '') || '/';
      const r = route(path);
      if (!r) throw new ApiError(404, `no route for ${req.method} ${path}; endpoints: ${endpoints}`, null, 'invalid_request_error', 'not_found');
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
      r.handler(req, res, { signal: ac.signal, path }).catch((e) => sendError(res, e));
    } catch (e) {
      req.resume();
      sendError(res, e);
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
