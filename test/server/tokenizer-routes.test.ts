// vLLM's tokenizer endpoints as lm-evaluation-harness's remote tokenizer uses them: the server root is base_url with
// /v1/completions removed; GET /tokenizer_info gives eos_token / bos_token, whose ids lm-eval gets by POST /tokenize
// {prompt, add_special_tokens: false}; POST /detokenize {tokens} → {prompt}. Bad input is a 400 naming the field.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LocalLanguageModel } from '../../src/lm/language-model.js';
import { startServer, type RunningServer } from '../../src/server/completions-server.js';
import { makeTinyBytesModelDir, makeTinyModelDir } from './tiny-model.js';

interface Err {
  error: { message: string; type: string; param: string | null; code: string | null };
}

describe('tokenizer endpoints (vLLM shapes, lm-eval remote tokenizer)', () => {
  let lm: LocalLanguageModel;
  let bytesLm: LocalLanguageModel;
  let srv: RunningServer;
  let bytesSrv: RunningServer;
  let locked: RunningServer;
  before(async () => {
    lm = LocalLanguageModel.load(makeTinyModelDir());
    bytesLm = LocalLanguageModel.load(makeTinyBytesModelDir(), { name: 'bytes' });
    srv = await startServer({ model: lm, port: 0 });
    bytesSrv = await startServer({ model: bytesLm, port: 0 });
    locked = await startServer({ model: lm, port: 0, apiKey: 'k' });
  });
  after(async () => {
    await srv?.close();
    await bytesSrv?.close();
    await locked?.close();
    await lm?.close();
    await bytesLm?.close();
  });

  const call = async (base: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const r = await fetch(`${base}${path}`, {
      method,
      headers: { 'Content-Type': 'application/json', ...headers },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
      signal: AbortSignal.timeout(30_000),
    });
    return { status: r.status, headers: r.headers, json: (await r.json()) as Record<string, unknown> };
  };

  it('GET /tokenizer_info: tokenizer_config-like fields; eos_token tokenizes to the end-of-text id', async () => {
    // what lm-eval's RemoteTokenizer does: base_url .../v1/completions → server root
    const base = `${srv.url}/v1/completions`.replace('/v1/completions', '');
    const info = await call(base, 'GET', '/tokenizer_info');
    assert.equal(info.status, 200);
    const eot = lm.tokenizer.eotId!;
    assert.deepEqual(
      { ...info.json, tokenizer_id: undefined },
      {
        tokenizer_class: 'CharTokenizer',
        tokenizer_id: undefined,
        bos_token: '<|endoftext|>',
        eos_token: '<|endoftext|>',
        unk_token: null,
        pad_token: null,
        bos_token_id: eot,
        eos_token_id: eot,
        pad_token_id: null,
        add_bos_token: false,
        add_eos_token: false,
        add_prefix_space: false,
        clean_up_tokenization_spaces: false,
        model_max_length: 32,
        vocab_size: lm.tokenizer.vocabSize,
        added_tokens_decoder: { [String(eot)]: '<|endoftext|>' },
      },
    );
    assert.equal(info.json.tokenizer_id, lm.tokenizer.id);
    // lm-eval: eos_token_id = encode(eos_token)[0]
    const t = await call(base, 'POST', '/tokenize', { prompt: info.json.eos_token, add_special_tokens: false });
    assert.deepEqual(t.json.tokens, [eot]);
    // lm-eval's check_remote_tokenizer_support
    assert.ok('eos_token' in info.json);
    const probe = await call(base, 'POST', '/tokenize', { prompt: 'test', add_special_tokens: false });
    assert.ok(Array.isArray(probe.json.tokens));
  });

  it('POST /tokenize → {count, max_model_len, tokens, token_strs}; /detokenize inverts it, multi-byte characters included', async () => {
    const text = 'a€𝄞 日本';
    const t = await call(bytesSrv.url, 'POST', '/tokenize', { model: 'bytes', prompt: text, add_special_tokens: true });
    assert.equal(t.status, 200);
    const ids = Array.from(new TextEncoder().encode(text));
    assert.deepEqual(t.json, { count: ids.length, max_model_len: 32, tokens: ids, token_strs: null });
    const withStrs = await call(bytesSrv.url, 'POST', '/tokenize', { prompt: 'a€', return_token_strs: true });
    assert.deepEqual(withStrs.json.token_strs, ['a', 'bytes:\\xe2', 'bytes:\\x82', 'bytes:\\xac']);
    const d = await call(bytesSrv.url, 'POST', '/detokenize', { model: 'bytes', tokens: ids });
    assert.deepEqual(d.json, { prompt: text });
    // part of a character: replacement character, as Hugging Face's decode(errors="replace")
    assert.deepEqual((await call(bytesSrv.url, 'POST', '/detokenize', { tokens: [0x61, 0xe2, 0x82] })).json, { prompt: 'a\uFFFD' });
    assert.deepEqual((await call(bytesSrv.url, 'POST', '/detokenize', { tokens: [] })).json, { prompt: '' });
    assert.deepEqual((await call(bytesSrv.url, 'POST', '/tokenize', { prompt: '' })).json.tokens, []);
    const info = await call(bytesSrv.url, 'GET', '/tokenizer_info');
    assert.equal(info.json.tokenizer_class, 'BytesTokenizer');
    assert.deepEqual(info.json.added_tokens_decoder, { '256': '<|endoftext|>' });
  });

  it('bad input → 400 naming the field; wrong model 404; wrong method 405; the API key applies', async () => {
    const cases: [string, unknown, number, string | null][] = [
      ['/tokenize', {}, 400, 'prompt'],
      ['/tokenize', { prompt: 5 }, 400, 'prompt'],
      ['/tokenize', { prompt: ['a'] }, 400, 'prompt'],
      ['/tokenize', { prompt: 'HELLO' }, 400, 'prompt'], // not in the char tokenizer's alphabet
      ['/tokenize', { prompt: 'a', add_special_tokens: 'yes' }, 400, 'add_special_tokens'],
      ['/tokenize', { prompt: 'a', return_token_strs: 1 }, 400, 'return_token_strs'],
      ['/tokenize', { messages: [{ role: 'user', content: 'a' }] }, 400, 'messages'],
      ['/tokenize', { prompt: 'a', extra: 1 }, 400, 'extra'],
      ['/tokenize', { prompt: 'a', model: 'other' }, 404, 'model'],
      ['/tokenize', 'not json', 400, 'body'],
      ['/tokenize', [1], 400, 'body'],
      ['/detokenize', {}, 400, 'tokens'],
      ['/detokenize', { tokens: 'abc' }, 400, 'tokens'],
      ['/detokenize', { tokens: [1, 1000] }, 400, 'tokens'],
      ['/detokenize', { tokens: [1, -1] }, 400, 'tokens'],
      ['/detokenize', { tokens: [1.5] }, 400, 'tokens'],
      ['/detokenize', { tokens: [1], model: 'other' }, 404, 'model'],
    ];
    for (const [path, body, status, param] of cases) {
      const r = await call(srv.url, 'POST', path, body);
      assert.equal(r.status, status, `${path} ${JSON.stringify(body)} → ${r.status} ${JSON.stringify(r.json)}`);
      const e = (r.json as unknown as Err).error;
      assert.equal(e.param, param, `${path} ${JSON.stringify(body)}`);
      assert.equal(e.type, 'invalid_request_error');
      if (param && param !== 'body') assert.match(e.message, new RegExp(param), e.message);
    }
    const get = await call(srv.url, 'GET', '/tokenize');
    assert.equal(get.status, 405);
    assert.equal(get.headers.get('allow'), 'POST');
    const post = await call(srv.url, 'POST', '/tokenizer_info', {});
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET');
    assert.equal((await call(locked.url, 'GET', '/tokenizer_info')).status, 401);
    assert.equal((await call(locked.url, 'GET', '/tokenizer_info', undefined, { Authorization: 'Bearer k' })).status, 200);
    assert.equal((await call(locked.url, 'POST', '/tokenize', { prompt: 'a' }, { Authorization: 'Bearer k' })).status, 200);
    // still serving
    assert.equal((await call(srv.url, 'POST', '/tokenize', { prompt: 'abc' })).json.count, 3);
  });
});
