// Small HTTP helpers shared by the server's routes: JSON responses, JSON request bodies with a size limit, and errors
// in OpenAI's shape ({"error": {"message", "type", "param", "code"}}), also mid-stream (as a final SSE event).

import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiError } from './validate.js';

export { ApiError } from './validate.js';

/** Per-request context handed to every route handler. */
export interface RequestContext {
  /** Aborted when the client goes away or the server closes. */
  signal: AbortSignal;
  /** The URL path without query and trailing slashes. */
  path: string;
}

export type Handler = (req: IncomingMessage, res: ServerResponse, ctx: RequestContext) => Promise<void>;

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** Answer with an error: an ApiError as is, anything else as a 500. Mid-stream, as an SSE event that ends the stream. */
export function sendError(res: ServerResponse, e: unknown): void {
  const err = e instanceof ApiError ? e : new ApiError(500, `internal error: ${e instanceof Error ? e.message : String(e)}`, null, 'server_error');
  if (res.headersSent) {
    if (!res.writableEnded && !res.destroyed) res.end(`data: ${JSON.stringify(err.toJSON())}\n\ndata: [DONE]\n\n`);
    return;
  }
  sendJson(res, err.status, err.toJSON(), { ...(err.status === 413 ? { Connection: 'close' } : {}), ...err.headers });
}

/** Read the body as JSON; 413 past the limit (the rest of the body is drained, not buffered), 400 when not JSON. */
export function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
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
