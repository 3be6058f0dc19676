// OpenAICompletionsModel's transport against small fake servers on loopback: retries with backoff on 503 / 429 /
// refused connections, no retries on 4xx, per-request timeouts, the concurrency limit, and the max_tokens 0 → 1
// fallback for servers that refuse to generate nothing.

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { OpenAICompletionsModel } from '../../src/lm/openai-client.js';
import { BytesTokenizer } from '../../src/tokenizer/index.js';

const servers: Server[] = [];

async function fake(handler: (req: IncomingMessage, res: ServerResponse, body: string) => void): Promise<string> {
  const s = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => handler(req, res, body));
  });
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

after(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
});

const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
};

const okCompletion = { id: 'cmpl-1', object: 'text_completion', created: 0, model: 'm', choices: [{ index: 0, text: 'hi', logprobs: null, finish_reason: 'length' }] };

describe('OpenAICompletionsModel transport', () => {
  it('retries 503 twice, then succeeds', async () => {
    let calls = 0;
    const url = await fake((_req, res) => {
      calls++;
      if (calls <= 2) json(res, 503, { error: { message: 'overloaded', type: 'server_error' } });
      else json(res, 200, okCompletion);
    });
    const c = new OpenAICompletionsModel({ baseUrl: url, model: 'm', maxRetries: 3, retryBaseMs: 5 });
    assert.deepEqual(await c.generate(['x'], { maxTokens: 2 }), [[{ text: 'hi', finishReason: 'length' }]]);
    assert.equal(calls, 3);
  });

  it('retries 429 (honouring Retry-After) and gives up after maxRetries with the last error', async () => {
    let calls = 0;
    const url = await fake((_req, res) => {
      calls++;
      json(res, 429, { error: { message: 'rate limited' } }, { 'Retry-After': '0' });
    });
    const c = new OpenAICompletionsModel({ baseUrl: url, model: 'm', maxRetries: 2, retryBaseMs: 1 });
    await assert.rejects(c.generate(['x'], { maxTokens: 1 }), (e: Error) => {
      assert.match(e.message, new RegExp(`POST ${url}/v1/completions: HTTP 429: rate limited \\(gave up after 3 attempts\\)`));
      return true;
    });
    assert.equal(calls, 3);
  });

  it('does not retry other 4xx', async () => {
    let calls = 0;
    const url = await fake((_req, res) => {
      calls++;
      json(res, 400, { error: { message: "'n' must be between 1 and 128", type: 'invalid_request_error', param: 'n' } });
    });
    const c = new OpenAICompletionsModel({ baseUrl: url, model: 'm', maxRetries: 3, retryBaseMs: 1 });
    await assert.rejects(c.generate(['x'], { maxTokens: 1, n: 0 }), /HTTP 400: 'n' must be between 1 and 128/);
    assert.equal(calls, 1);
  });

  it('times out a server that never answers, with a clear error, after its retries', async () => {
    let calls = 0;
    const url = await fake(() => {
      calls++; // never responds
    });
    const c = new OpenAICompletionsModel({ baseUrl: url, model: 'm', maxRetries: 1, timeoutMs: 150, retryBaseMs: 1 });
    const t0 = Date.now();
    await assert.rejects(c.generate(['x'], { maxTokens: 1 }), (e: Error) => {
      assert.match(e.message, new RegExp(`POST ${url}/v1/completions: no answer within 150 ms \\(timed out\\) \\(gave up after 2 attempts\\)`));
      return true;
    });
    assert.equal(calls, 2);
    assert.ok(Date.now() - t0 < 5000);
  });

  it('reports refused connections as network errors after retrying', async () => {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const c = new OpenAICompletionsModel({ baseUrl: `http://127.0.0.1:${port}`, model: 'm', maxRetries: 1, retryBaseMs: 1 });
    await assert.rejects(c.maxContext(), /GET http:\/\/127\.0\.0\.1:\d+\/v1\/models: network error: ECONNREFUSED \(gave up after 2 attempts\)/);
  });

  it('keeps at most `concurrency` requests in flight', async () => {
    let active = 0;
    let peak = 0;
    const url = await fake((_req, res) => {
      active++;
      peak = Math.max(peak, active);
      setTimeout(() => {
        active--;
        json(res, 200, okCompletion);
      }, 40);
    });
    const c = new OpenAICompletionsModel({ baseUrl: url, model: 'm', concurrency: 2 });
    const r = await c.generate(['a', 'b', 'c', 'd', 'e', 'f'], { maxTokens: 1 });
    assert.equal(r.length, 6);
    assert.equal(peak, 2);
  });

  it('falls back to max_tokens 1 when the server refuses 0, and drops the generated token', async () => {
    const seen: number[] = [];
    const url = await fake((_req, res, body) => {
      const b = JSON.parse(body) as { prompt: number[]; max_tokens: number; echo: boolean; logprobs: number };
      seen.push(b.max_tokens);
      if (b.max_tokens === 0) return json(res, 400, { error: { message: 'max_tokens must be at least 1', param: 'max_tokens' } });
      assert.equal(b.echo, true);
      // echo the prompt (every token log p = -1, top-1 = itself) plus one generated token
      const ids = [...b.prompt, 120];
      const logprobs = {
        tokens: ids.map((i) => String.fromCharCode(i)),
        token_logprobs: ids.map((_, i) => (i === 0 ? null : -1)),
        top_logprobs: ids.map((i, k) => (k === 0 ? null : { [String.fromCharCode(i)]: -1 })),
        text_offset: ids.map((_, i) => i),
      };
      json(res, 200, { ...okCompletion, choices: [{ index: 0, text: '', logprobs, finish_reason: 'length' }], usage: { prompt_tokens: b.prompt.length, completion_tokens: 1, total_tokens: b.prompt.length + 1 } });
    });
    const c = new OpenAICompletionsModel({ baseUrl: url, model: 'm', tokenizer: new BytesTokenizer({ eot: true }), maxContext: 64 });
    const r = await c.loglikelihood([{ context: 'ab', continuation: 'cd' }, { context: 'abc', continuation: 'd' }]);
    assert.deepEqual(r, [
      { logprob: -2, isGreedy: true, tokens: 2 },
      { logprob: -1, isGreedy: true, tokens: 1 },
    ]);
    assert.equal(seen[0], 0);
    assert.deepEqual(seen.slice(-1), [1]);
    assert.equal(seen.filter((x) => x === 0).length, seen.length - 2);
  });
});
