// The OpenAI-compatible server over a tiny local model, and the OpenAI client against it on loopback: /v1/models,
// completions (n, stop, max_tokens, seeds, greedy), streaming, echo + logprobs against LocalLanguageModel's scores,
// the client's loglikelihood / rolling / score / generate against LocalLanguageModel, and bad requests (400s naming the
// parameter, the server still answering afterwards).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LocalLanguageModel } from '../../src/lm/language-model.js';
import { OpenAICompletionsModel } from '../../src/lm/openai-client.js';
import { startServer, textOffsets, TokenStrings, type RunningServer } from '../../src/server/completions-server.js';
import { logSumExp, topKIndices } from '../../src/lm/generate.js';
import { BytesTokenizer, loadTokenizer } from '../../src/tokenizer/index.js';
import { makeTinyModelDir } from './tiny-model.js';

const dir = makeTinyModelDir();
let lm: LocalLanguageModel;
let srv: RunningServer;
let url: string;

interface Choice {
  index: number;
  text: string;
  finish_reason: string | null;
  logprobs: { tokens: string[]; token_logprobs: (number | null)[]; top_logprobs: (Record<string, number> | null)[]; text_offset: number[] } | null;
}
interface CompletionBody {
  id: string;
  object: string;
  model: string;
  choices: Choice[];
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
  warnings?: string[];
  error?: { message: string; type: string; param: string | null };
}

async function post(path: string, body: unknown): Promise<{ status: number; headers: Headers; json: CompletionBody }> {
  const r = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  return { status: r.status, headers: r.headers, json: (await r.json()) as CompletionBody };
}

const complete = async (body: Record<string, unknown>) => {
  const r = await post('/v1/completions', body);
  assert.equal(r.status, 200, JSON.stringify(r.json));
  return r.json;
};

/** POST a streaming request; returns the parsed `data:` events (the last one is the string '[DONE]'). */
async function stream(body: Record<string, unknown>): Promise<(CompletionBody | '[DONE]')[]> {
  const r = await fetch(`${url}/v1/completions`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ ...body, stream: true }), signal: AbortSignal.timeout(30_000) });
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type') ?? '', /text\/event-stream/);
  const text = await r.text();
  const events = text.split('\n\n').filter((e) => e.trim() !== '');
  return events.map((e) => {
    assert.ok(e.startsWith('data: '), e);
    const d = e.slice(6);
    return d === '[DONE]' ? '[DONE]' : (JSON.parse(d) as CompletionBody);
  });
}

function streamedTexts(events: (CompletionBody | '[DONE]')[]): { texts: string[]; finish: (string | null)[]; chunks: number } {
  const texts: string[] = [];
  const finish: (string | null)[] = [];
  let chunks = 0;
  for (const e of events) {
    if (e === '[DONE]') continue;
    for (const c of e.choices) {
      chunks++;
      texts[c.index] = (texts[c.index] ?? '') + c.text;
      if (c.finish_reason !== null) {
        assert.equal(finish[c.index], undefined, `choice ${c.index} finished twice`);
        finish[c.index] = c.finish_reason;
      }
    }
  }
  return { texts, finish, chunks };
}

const close = (a: number | null, b: number | null, tol = 1e-4) => a !== null && b !== null && Math.abs(a - b) <= tol;

before(async () => {
  lm = LocalLanguageModel.load(dir, { maxBatch: 4 });
  srv = await startServer({ model: lm, port: 0 });
  url = srv.url;
});

after(async () => {
  await srv?.close();
  await lm?.close();
});

describe('tessera serve: OpenAI-compatible completions', () => {
  it('GET /v1/models, /v1/models/{id} and /health', async () => {
    const r = await fetch(`${url}/v1/models`);
    assert.equal(r.status, 200);
    const j = (await r.json()) as { object: string; data: { id: string; object: string; owned_by: string; max_model_len: number }[] };
    assert.equal(j.object, 'list');
    assert.equal(j.data.length, 1);
    assert.deepEqual({ id: j.data[0]!.id, object: j.data[0]!.object, owned_by: j.data[0]!.owned_by, max_model_len: j.data[0]!.max_model_len }, { id: 'tiny', object: 'model', owned_by: 'tessera', max_model_len: 32 });
    assert.equal((await fetch(`${url}/v1/models/tiny`)).status, 200);
    assert.equal((await fetch(`${url}/v1/models/other`)).status, 404);
    assert.equal((await fetch(`${url}/health`)).status, 200);
  });

  it('n completions with max_tokens and usage; same seed = same samples; temperature 0 is deterministic and equals the local model', async () => {
    const a = await complete({ model: 'tiny', prompt: 'hello world', max_tokens: 7, n: 2, seed: 11, temperature: 1 });
    assert.equal(a.object, 'text_completion');
    assert.match(a.id, /^cmpl-/);
    assert.deepEqual(a.choices.map((c) => c.index), [0, 1]);
    for (const c of a.choices) {
      assert.ok(c.finish_reason === 'length' || c.finish_reason === 'stop');
      if (c.finish_reason === 'length') assert.equal([...c.text].length, 7);
      assert.equal(c.logprobs, null);
    }
    assert.equal(a.usage.prompt_tokens, 11);
    assert.equal(a.usage.completion_tokens, a.choices.reduce((s, c) => s + [...c.text].length, 0));
    assert.equal(a.usage.total_tokens, a.usage.prompt_tokens + a.usage.completion_tokens);
    const b = await complete({ prompt: 'hello world', max_tokens: 7, n: 2, seed: 11 });
    assert.deepEqual(b.choices.map((c) => c.text), a.choices.map((c) => c.text));
    assert.notEqual(a.choices[0]!.text, a.choices[1]!.text, 'two samples in one request differ');
    const c = await complete({ prompt: 'hello world', max_tokens: 7, n: 2, seed: 12 });
    assert.notDeepEqual(c.choices.map((x) => x.text), a.choices.map((x) => x.text));

    const g1 = await complete({ prompt: ['hello world', 'the '], max_tokens: 10, temperature: 0, n: 2 });
    const g2 = await complete({ prompt: ['hello world', 'the '], max_tokens: 10, temperature: 0 });
    assert.equal(g1.choices.length, 4);
    assert.equal(g1.choices[0]!.text, g1.choices[1]!.text);
    assert.equal(g1.choices[2]!.text, g1.choices[3]!.text);
    assert.deepEqual([g1.choices[0]!.text, g1.choices[2]!.text], g2.choices.map((x) => x.text));
    const local = await lm.generate(['hello world', 'the '], { maxTokens: 10, temperature: 0 });
    assert.deepEqual(local.map((r) => r[0]!.text), g2.choices.map((x) => x.text));
  });

  it('stop sequences cut the text and finish with "stop"; token-id prompts work', async () => {
    const full = (await complete({ prompt: 'hello world', max_tokens: 16, temperature: 0 })).choices[0]!.text;
    assert.ok([...full].length >= 8, full);
    const stop = [...full].slice(5, 7).join('');
    const want = full.slice(0, full.indexOf(stop));
    const r = await complete({ prompt: 'hello world', max_tokens: 16, temperature: 0, stop: [stop, 'zzzz'] });
    assert.equal(r.choices[0]!.text, want);
    assert.equal(r.choices[0]!.finish_reason, 'stop');
    const ids = await lm.tokenize('hello world');
    const byIds = await complete({ prompt: ids, max_tokens: 16, temperature: 0, stop });
    assert.equal(byIds.choices[0]!.text, want);
    const byIdLists = await complete({ prompt: [ids, ids.slice(0, 5)], max_tokens: 3, temperature: 0 });
    assert.equal(byIdLists.choices.length, 2);
    assert.equal(byIdLists.usage.prompt_tokens, ids.length + 5);
  });

  it('streams server-sent events that add up to the non-streamed completion (n = 2, stop, usage)', async () => {
    const body = { prompt: 'hello world', max_tokens: 12, n: 2, seed: 5 };
    const plain = await complete(body);
    const events = await stream({ ...body, stream_options: { include_usage: true } });
    assert.equal(events.at(-1), '[DONE]');
    const s = streamedTexts(events);
    assert.deepEqual(s.texts, plain.choices.map((c) => c.text));
    assert.deepEqual(s.finish, plain.choices.map((c) => c.finish_reason));
    assert.ok(s.chunks > 4, 'text arrives in several chunks');
    const usage = events.at(-2) as CompletionBody;
    assert.deepEqual(usage.choices, []);
    assert.deepEqual(usage.usage, plain.usage);

    const full = (await complete({ prompt: 'hello world', max_tokens: 16, temperature: 0 })).choices[0]!.text;
    const stop = [...full].slice(6, 9).join('');
    const withStop = { prompt: 'hello world', max_tokens: 16, temperature: 0, stop };
    const st = streamedTexts(await stream(withStop));
    assert.deepEqual(st.texts, [full.slice(0, full.indexOf(stop))]);
    assert.deepEqual(st.finish, ['stop']);
    // echo streams the prompt first
    const e = streamedTexts(await stream({ prompt: 'abc', max_tokens: 3, temperature: 0, echo: true }));
    assert.ok(e.texts[0]!.startsWith('abc'));
  });

  it('echo + logprobs: prompt token_logprobs equal LocalLanguageModel.score; offsets in code points; top_logprobs', async () => {
    const prompt = 'the €uro 𝄞 clef, hello world';
    const local = await lm.score(prompt);
    for (const k of [0, 3]) {
      const r = await complete({ prompt, echo: true, max_tokens: 0, logprobs: k });
      const c = r.choices[0]!;
      assert.equal(c.text, prompt);
      assert.equal(r.usage.completion_tokens, 0);
      const lp = c.logprobs!;
      assert.equal(lp.tokens.join(''), prompt);
      assert.equal(lp.tokens.length, local.tokens.length);
      assert.equal(lp.token_logprobs[0], null);
      assert.equal(lp.top_logprobs[0], null);
      lp.token_logprobs.forEach((v, i) => i > 0 && assert.ok(close(v, local.logprobs[i]!), `token ${i}: ${v} vs ${local.logprobs[i]}`));
      // offsets count code points: '𝄞' is one character
      const cps = [...prompt];
      assert.deepEqual(lp.text_offset, cps.map((_, i) => i));
      for (let i = 1; i < lp.tokens.length; i++) {
        const top = lp.top_logprobs[i]!;
        const entries = Object.entries(top);
        assert.ok(entries.length >= 1 && entries.length <= k + 1, `${entries.length} alternatives`);
        assert.equal(top[lp.tokens[i]!], lp.token_logprobs[i]);
        if (k > 0) {
          const best = Math.max(...entries.map(([, v]) => v));
          assert.ok(best >= lp.token_logprobs[i]!);
          for (const [, v] of entries) assert.ok(v <= 0);
        }
      }
    }
  });

  it('echo of a prompt longer than the context scores every token with sliding windows', async () => {
    const prompt = 'hello world, this is a longer text than the tiny context of thirty two tokens allows.';
    const local = await lm.score(prompt);
    assert.ok(local.tokens.length > 64);
    const r = await complete({ prompt, echo: true, max_tokens: 0, logprobs: 1 });
    const lp = r.choices[0]!.logprobs!;
    assert.equal(lp.token_logprobs.length, local.tokens.length);
    lp.token_logprobs.forEach((v, i) => i > 0 && assert.ok(close(v, local.logprobs[i]!), `token ${i}`));
    // generation from it is truncated from the left, with a warning
    const g = await post('/v1/completions', { prompt, max_tokens: 3, temperature: 0 });
    assert.equal(g.status, 200);
    assert.match(g.headers.get('x-tessera-warning') ?? '', /more than the context/);
    assert.equal(g.json.warnings?.length, 1);
    assert.equal([...g.json.choices[0]!.text].length, 3);
  });

  it('logprobs of generated tokens equal teacher-forced scores; greedy tokens are their top-1', async () => {
    const prompt = 'hello world';
    const r = await complete({ prompt, max_tokens: 8, temperature: 0, logprobs: 2, echo: true });
    const c = r.choices[0]!;
    const lp = c.logprobs!;
    assert.equal(lp.tokens.join(''), c.text);
    const scored = await lm.score(c.text);
    assert.equal(lp.token_logprobs.length, scored.tokens.length);
    lp.token_logprobs.forEach((v, i) => i > 0 && assert.ok(close(v, scored.logprobs[i]!), `token ${i}: ${v} vs ${scored.logprobs[i]}`));
    for (let i = [...prompt].length; i < lp.tokens.length; i++) {
      const top = lp.top_logprobs[i]!;
      const best = Object.entries(top).sort((a, b) => b[1] - a[1])[0]![0];
      assert.equal(best, lp.tokens[i], `generated token ${i} is the argmax`);
      assert.equal(lp.text_offset[i], i);
    }
    const noEcho = (await complete({ prompt, max_tokens: 8, temperature: 0, logprobs: 0 })).choices[0]!;
    assert.equal(noEcho.logprobs!.text_offset[0], 0);
    assert.equal(noEcho.logprobs!.tokens.join(''), noEcho.text);
  });

  it('invalid requests get 400 (404/405/413) with a JSON error naming the parameter; the server keeps answering', async () => {
    const cases: [unknown, number, string | null][] = [
      ['not json', 400, 'body'],
      ['', 400, 'body'],
      [[1, 2], 400, 'body'],
      [{ prompt: 'a', bogus: 1 }, 400, 'bogus'],
      [{}, 400, 'prompt'],
      [{ prompt: [] }, 400, 'prompt'],
      [{ prompt: [[]] }, 400, 'prompt'],
      [{ prompt: ['a', 1] }, 400, 'prompt'],
      [{ prompt: 5 }, 400, 'prompt'],
      [{ prompt: [1, 2, 999] }, 400, 'prompt'],
      [{ prompt: [1, -1] }, 400, 'prompt'],
      [{ prompt: [1, 2.5] }, 400, 'prompt'],
      [{ prompt: 'HELLO' }, 400, 'prompt'],
      [{ prompt: 'a', n: 0 }, 400, 'n'],
      [{ prompt: 'a', n: 'two' }, 400, 'n'],
      [{ prompt: 'a', n: 1000 }, 400, 'n'],
      [{ prompt: 'a', temperature: -0.5 }, 400, 'temperature'],
      [{ prompt: 'a', temperature: '1' }, 400, 'temperature'],
      [{ prompt: 'a', top_p: 0 }, 400, 'top_p'],
      [{ prompt: 'a', top_p: 1.5 }, 400, 'top_p'],
      [{ prompt: 'a', logprobs: 21 }, 400, 'logprobs'],
      [{ prompt: 'a', logprobs: true }, 400, 'logprobs'],
      [{ prompt: 'a', max_tokens: -1 }, 400, 'max_tokens'],
      [{ prompt: 'a', max_tokens: 1.5 }, 400, 'max_tokens'],
      [{ prompt: 'a', stop: 5 }, 400, 'stop'],
      [{ prompt: 'a', stop: ['a', 3] }, 400, 'stop'],
      [{ prompt: 'a', echo: 1 }, 400, 'echo'],
      [{ prompt: 'a', stream: 'yes' }, 400, 'stream'],
      [{ prompt: 'a', seed: 'x' }, 400, 'seed'],
      [{ prompt: 'a', best_of: 3 }, 400, 'best_of'],
      [{ prompt: 'a', stream_options: { include_usage: true } }, 400, 'stream_options'],
      [{ prompt: 'a', suffix: 'b' }, 400, 'suffix'],
      [{ prompt: 'a', logit_bias: { '1': 5 } }, 400, 'logit_bias'],
      [{ prompt: 'a', presence_penalty: 1 }, 400, 'presence_penalty'],
      [{ prompt: 'a', temperature_schedule: { start: 10 } }, 400, 'temperature_schedule'],
      [{ prompt: 'a', model: 'gpt-4' }, 404, 'model'],
    ];
    for (const [body, status, param] of cases) {
      const r = await post('/v1/completions', body);
      assert.equal(r.status, status, `${JSON.stringify(body)} → ${r.status} ${JSON.stringify(r.json)}`);
      assert.equal(typeof r.json.error?.message, 'string');
      assert.equal(r.json.error?.type, 'invalid_request_error');
      assert.equal(r.json.error?.param, param, JSON.stringify(body));
    }
    const big = await fetch(`${url}/v1/completions`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ prompt: 'a'.repeat(2 << 20) }) });
    assert.equal(big.status, 413);
    assert.equal(((await big.json()) as CompletionBody).error?.type, 'invalid_request_error');
    const get = await fetch(`${url}/v1/completions`);
    assert.equal(get.status, 405);
    assert.equal(get.headers.get('allow'), 'POST');
    assert.equal(((await get.json()) as CompletionBody).error?.type, 'invalid_request_error');
    const missing = await fetch(`${url}/v1/chat/completions`, { method: 'POST', body: '{}' });
    assert.equal(missing.status, 404);
    assert.ok(((await missing.json()) as CompletionBody).error?.message);
    // still serving
    const ok = await complete({ prompt: 'abc', max_tokens: 2, temperature: 0 });
    assert.equal(ok.choices.length, 1);
  });

  it('a client that disconnects mid-stream does not disturb the server', async () => {
    const ac = new AbortController();
    const r = await fetch(`${url}/v1/completions`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ prompt: 'abc', max_tokens: 400, stream: true }), signal: ac.signal });
    const reader = r.body!.getReader();
    await reader.read();
    ac.abort();
    await reader.read().catch(() => undefined);
    const ok = await complete({ prompt: 'abc', max_tokens: 2, temperature: 0 });
    assert.equal(ok.choices.length, 1);
  });

  it('POST /tokenize and /detokenize (vLLM shapes)', async () => {
    const t = (await post('/tokenize', { prompt: 'hello 𝄞' })).json as unknown as { tokens: number[]; count: number; max_model_len: number };
    assert.deepEqual(t.tokens, await lm.tokenize('hello 𝄞'));
    assert.equal(t.count, 7);
    assert.equal(t.max_model_len, 32);
    const d = (await post('/detokenize', { tokens: t.tokens })).json as unknown as { prompt: string };
    assert.equal(d.prompt, 'hello 𝄞');
    assert.equal((await post('/detokenize', { tokens: [1, 1000] })).status, 400);
    assert.equal((await post('/tokenize', { text: 'x' })).status, 400);
  });
});

describe('OpenAICompletionsModel against tessera serve', () => {
  const reqs = [
    { context: 'hello', continuation: ' world' },
    { context: 'the quick brown ', continuation: 'fox' },
    { context: '', continuation: 'abc' },
    { context: 'a €uro for a 𝄞', continuation: ' clef' },
    { context: 'x', continuation: '' },
  ];
  let withTok: OpenAICompletionsModel;
  let noTok: OpenAICompletionsModel;
  before(() => {
    withTok = new OpenAICompletionsModel({ baseUrl: url, model: 'tiny', tokenizer: loadTokenizer(dir), concurrency: 3 });
    noTok = new OpenAICompletionsModel({ baseUrl: `${url}/v1`, model: 'tiny' });
  });

  it('loglikelihood equals LocalLanguageModel (with and without a client-side tokenizer); isGreedy agrees', async () => {
    // a continuation that is the greedy one, so isGreedy is true somewhere
    const greedy = (await lm.generate(['hello wor'], { maxTokens: 3, temperature: 0 }))[0]![0]!.text;
    const all = [...reqs, { context: 'hello wor', continuation: greedy }];
    const want = await lm.loglikelihood(all);
    assert.equal(want.at(-1)!.isGreedy, true);
    assert.ok(want.some((w) => !w.isGreedy));
    for (const client of [withTok, noTok]) {
      const got = await client.loglikelihood(all);
      got.forEach((g, i) => {
        if (want[i]!.error !== undefined) {
          // an empty continuation is an error of that request alone, locally and through the client
          assert.equal(g.error, want[i]!.error, JSON.stringify(all[i]));
          assert.ok(Number.isNaN(g.logprob));
          return;
        }
        assert.ok(Math.abs(g.logprob - want[i]!.logprob) < 1e-4, `${JSON.stringify(all[i])}: ${g.logprob} vs ${want[i]!.logprob}`);
        assert.equal(g.isGreedy, want[i]!.isGreedy, JSON.stringify(all[i]));
      });
    }
  });

  it('loglikelihoodRolling equals LocalLanguageModel (short texts; long texts scored whole by the server)', async () => {
    const texts = ['hello world', 'the €uro', '', 'a much longer text than the context of the tiny model, scored in overlapping windows.'];
    const want = await lm.loglikelihoodRolling(texts);
    assert.deepEqual(want.map((w) => w.tokens), texts.map((t) => [...t].length));
    const viaText = await noTok.loglikelihoodRolling(texts);
    viaText.forEach((g, i) => {
      assert.equal(g.tokens, want[i]!.tokens);
      assert.ok(Math.abs(g.logprob - want[i]!.logprob) < 1e-3, `text ${i}: ${g.logprob} vs ${want[i]!.logprob}`);
    });
    const viaIds = await withTok.loglikelihoodRolling(texts);
    viaIds.forEach((g, i) => {
      assert.equal(g.tokens, want[i]!.tokens);
      if (i < 3) assert.ok(Math.abs(g.logprob - want[i]!.logprob) < 1e-4, `text ${i}`);
      else assert.ok(Number.isFinite(g.logprob) && g.logprob < 0, 'long text: client-side windows of the context length');
    });
  });

  it('score, tokenize, detokenize, maxContext and generate match the local model', async () => {
    const text = 'hello €uro 𝄞';
    const want = await lm.score(text);
    for (const client of [withTok, noTok]) {
      const got = await client.score(text);
      assert.deepEqual(got.tokens, want.tokens);
      got.logprobs.forEach((v, i) => (i === 0 ? assert.equal(v, null) : assert.ok(close(v, want.logprobs[i]!))));
      assert.deepEqual(await client.tokenize(text), want.tokens);
      assert.equal(await client.detokenize(want.tokens), text);
      assert.equal(await client.maxContext(), 32);
    }
    const prompts = ['hello world', 'the '];
    const local = await lm.generate(prompts, { maxTokens: 9, temperature: 0 });
    const remote = await noTok.generate(prompts, { maxTokens: 9, temperature: 0 });
    assert.deepEqual(remote, local);
    const sampled = await withTok.generate(['abc'], { maxTokens: 5, n: 3, seed: 7, temperature: 1.2, topK: 10, topP: 0.95 });
    assert.equal(sampled[0]!.length, 3);
    assert.deepEqual(await withTok.generate(['abc'], { maxTokens: 5, n: 3, seed: 7, temperature: 1.2, topK: 10, topP: 0.95 }), sampled);
    const stopped = await withTok.generate(['hello world'], { maxTokens: 16, temperature: 0, stop: [local[0]![0]!.text.slice(2, 4)] });
    assert.equal(stopped[0]![0]!.text, local[0]![0]!.text.slice(0, local[0]![0]!.text.indexOf(local[0]![0]!.text.slice(2, 4))));
    assert.equal(stopped[0]![0]!.finishReason, 'stop');
  });

  it('concurrent requests through the client all succeed (the server serializes model access)', async () => {
    const texts = Array.from({ length: 8 }, (_, i) => `text number ${'abcdefgh'[i]}`);
    const [a, b] = await Promise.all([withTok.loglikelihoodRolling(texts), noTok.generate(texts.slice(0, 4), { maxTokens: 4, temperature: 0 })]);
    assert.equal(a.length, 8);
    assert.equal(b.length, 4);
    const want = await lm.loglikelihoodRolling(texts);
    a.forEach((g, i) => assert.ok(Math.abs(g.logprob - want[i]!.logprob) < 1e-4));
  });

  it('an API key is required when the server has one (401 without it; /health stays open)', async () => {
    const locked = await startServer({ model: lm, port: 0, apiKey: 'sesame' });
    try {
      const r = await fetch(`${locked.url}/v1/models`);
      assert.equal(r.status, 401);
      assert.equal(((await r.json()) as CompletionBody).error?.type, 'authentication_error');
      assert.equal((await fetch(`${locked.url}/health`)).status, 200);
      const c = new OpenAICompletionsModel({ baseUrl: locked.url, model: 'tiny', apiKey: 'sesame' });
      assert.equal(await c.maxContext(), 32);
      const wrong = new OpenAICompletionsModel({ baseUrl: locked.url, model: 'tiny', apiKey: 'nope' });
      await assert.rejects(wrong.maxContext(), /HTTP 401/);
    } finally {
      await locked.close();
    }
  });

  it('a 4xx from the server is reported with the URL, status and message, without retries', async () => {
    const c = new OpenAICompletionsModel({ baseUrl: url, model: 'nope', retryBaseMs: 1 });
    await assert.rejects(c.generate(['a'], { maxTokens: 1 }), (e: Error) => {
      assert.match(e.message, /POST http:\/\/127\.0\.0\.1:\d+\/v1\/completions: HTTP 404: the model 'nope' does not exist/);
      assert.doesNotMatch(e.message, /attempt/);
      return true;
    });
  });
});

describe('helpers', () => {
  it('topKIndices (descending, ties by index) and a stable logSumExp', () => {
    const x = Float32Array.from([0.5, 3, -1, 3, 2, 0.5]);
    assert.deepEqual(topKIndices(x, 3), [1, 3, 4]);
    assert.deepEqual(topKIndices(x, 0), []);
    assert.deepEqual(topKIndices(x, 10), [1, 3, 4, 0, 5, 2]);
    assert.ok(Math.abs(logSumExp([1000, 1000]) - (1000 + Math.log(2))) < 1e-9);
    assert.ok(Math.abs(logSumExp([-1000, -1000.5]) - (-1000 + Math.log(1 + Math.exp(-0.5)))) < 1e-9);
  });


  it('bytes that are not whole UTF-8 characters are shown as bytes:\\xNN; offsets count code points', () => {
    const tok = new BytesTokenizer({ eot: true });
    const s = new TokenStrings(tok);
    const ids = tok.encode('a€𝄞b');
    assert.deepEqual(ids.map((id) => s.get(id)), ['a', 'bytes:\\xe2', 'bytes:\\x82', 'bytes:\\xac', 'bytes:\\xf0', 'bytes:\\x9d', 'bytes:\\x84', 'bytes:\\x9e', 'b']);
    assert.equal(s.get(256), '<|endoftext|>');
    assert.deepEqual(textOffsets(tok, ids, 10), [10, 11, 11, 11, 12, 12, 12, 12, 13]);
  });
});
