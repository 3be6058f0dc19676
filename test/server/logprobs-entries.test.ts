// One logprobs entry per generated token, whatever its text: tokens that are parts of a multi-byte character are
// "bytes:\xNN…" (in tokens and as top_logprobs keys), text_offset follows the text, the end-of-text token that ends a
// row has its entry, echo puts the prompt's entries first. A scripted model returns generations the way the generator
// will (every generated token, incomplete characters included), so these tests do not depend on the generator. Then
// lm-evaluation-harness's reading of a scoring response (sum of token_logprobs[ctxlen:-1]) on a real tiny model with a
// bytes tokenizer, for continuations in CJK and emoji, against LocalLanguageModel.loglikelihood.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { TokenGeneration, TokenGenerateOptions, TokenLevelModel, TokenScores, TopLogprob } from '../../src/lm/language-model.js';
import { encodePair, LocalLanguageModel } from '../../src/lm/language-model.js';
import { startServer, TokenStrings, type RunningServer } from '../../src/server/completions-server.js';
import { BytesTokenizer } from '../../src/tokenizer/index.js';
import { makeTinyBytesModelDir } from './tiny-model.js';

interface Logprobs {
  tokens: string[];
  token_logprobs: (number | null)[];
  top_logprobs: (Record<string, number> | null)[];
  text_offset: number[];
}
interface Choice {
  index: number;
  text: string;
  finish_reason: string | null;
  logprobs: Logprobs | null;
}
interface Body {
  choices: Choice[];
  usage: { prompt_tokens: number; completion_tokens: number };
}

const EOT = 256;
const enc = (s: string) => Array.from(new TextEncoder().encode(s));

/** A TokenLevelModel with scripted generations and deterministic scores (no network, no ONNX). */
class ScriptedModel implements TokenLevelModel {
  readonly name = 'scripted';
  readonly contextLength = 16;
  readonly tokenizer = new BytesTokenizer({ eot: true });
  generateCalls = 0;
  scoreCalls: number[][] = [];
  /** What generateTokens returns for every row. */
  generation: TokenGeneration = { tokens: [], text: '', finishReason: 'length' };
  /** The alternatives at every position (most likely first). */
  alternatives: TopLogprob[] = [
    { id: 0xe6, logprob: -0.25 },
    { id: 0x41, logprob: -1.5 },
    { id: EOT, logprob: -2.5 },
  ];

  static lp(id: number): number {
    return -0.01 * ((id % 50) + 1);
  }

  async scoreTokens(ids: number[], topK: number): Promise<TokenScores> {
    this.scoreCalls.push([...ids]);
    return {
      logprobs: ids.map((id, i) => (i === 0 ? null : ScriptedModel.lp(id))),
      greedy: ids.map((_, i) => (i === 0 ? null : false)),
      ...(topK > 0 ? { top: ids.map((_, i) => (i === 0 ? null : this.alternatives.slice(0, topK))) } : {}),
    };
  }

  async generateTokens(prompts: number[][], o: TokenGenerateOptions): Promise<{ rows: TokenGeneration[]; warnings: string[] }> {
    this.generateCalls++;
    const n = o.n ?? 1;
    const rows = prompts.flatMap(() => Array.from({ length: n }, () => structuredClone(this.generation)));
    for (let i = 0; i < rows.length; i++) o.onText?.(i, rows[i]!.text);
    return { rows, warnings: [] };
  }
}

async function post(url: string, body: unknown): Promise<{ status: number; json: Body }> {
  const r = await fetch(`${url}/v1/completions`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(30_000) });
  return { status: r.status, json: (await r.json()) as Body };
}

describe('logprobs: an entry per generated token (scripted model)', () => {
  const model = new ScriptedModel();
  let srv: RunningServer;
  before(async () => {
    srv = await startServer({ model, port: 0 });
  });
  after(async () => srv?.close());

  // "a€" and the first byte of "𝄞": the generator returns all five tokens; the text ends in U+FFFD for the incomplete
  // character, as a row that stops inside a character does
  const alts = [
    { id: 0xe2, logprob: -0.05 },
    { id: 0x62, logprob: -0.75 },
  ];
  const gen: TokenGeneration = {
    tokens: [...enc('a€'), 0xf0],
    text: 'a€\uFFFD',
    finishReason: 'length',
    tokenLogprobs: [-0.125, -0.25, -0.375, -0.5, -0.625],
    topLogprobs: Array.from({ length: 5 }, () => alts),
  };

  it('tokens inside a multi-byte character are bytes:\\xNN, as tokens and as top_logprobs keys; offsets in code points', async () => {
    model.generation = gen;
    const r = await post(srv.url, { prompt: 'xy', max_tokens: 5, temperature: 0.5, logprobs: 2 });
    assert.equal(r.status, 200);
    const c = r.json.choices[0]!;
    assert.equal(c.text, 'a€\uFFFD');
    const lp = c.logprobs!;
    assert.deepEqual(lp.tokens, ['a', 'bytes:\\xe2', 'bytes:\\x82', 'bytes:\\xac', 'bytes:\\xf0']);
    assert.deepEqual(lp.token_logprobs, gen.tokenLogprobs);
    assert.deepEqual(lp.text_offset, [0, 1, 1, 1, 2]);
    assert.deepEqual(lp.top_logprobs[0], { 'bytes:\\xe2': -0.05, b: -0.75, a: -0.125 });
    assert.deepEqual(lp.top_logprobs[1], { 'bytes:\\xe2': -0.05, b: -0.75 });
    assert.deepEqual(lp.top_logprobs[4], { 'bytes:\\xe2': -0.05, b: -0.75, 'bytes:\\xf0': -0.625 });
    assert.equal(r.json.usage.completion_tokens, 5);
  });

  it('with echo: the prompt entries, then the generated ones; text_offset continues after the prompt', async () => {
    model.generation = gen;
    const prompt = 'x€';
    const r = await post(srv.url, { prompt, max_tokens: 5, temperature: 0.5, logprobs: 1, echo: true });
    const c = r.json.choices[0]!;
    assert.equal(c.text, 'x€a€\uFFFD');
    const lp = c.logprobs!;
    assert.deepEqual(lp.tokens, ['x', 'bytes:\\xe2', 'bytes:\\x82', 'bytes:\\xac', 'a', 'bytes:\\xe2', 'bytes:\\x82', 'bytes:\\xac', 'bytes:\\xf0']);
    assert.deepEqual(lp.token_logprobs.slice(0, 4), [null, ...enc('€').map(ScriptedModel.lp)]);
    assert.deepEqual(lp.token_logprobs.slice(4), gen.tokenLogprobs);
    assert.deepEqual(lp.text_offset, [0, 1, 1, 1, 2, 3, 3, 3, 4]);
    assert.equal(lp.top_logprobs[0], null);
    // every offset points into the returned text
    for (const o of lp.text_offset) assert.ok(o <= [...c.text].length);
  });

  it('a row ended by the end-of-text token lists that token last (scored after the prompt and the generation)', async () => {
    model.generation = { tokens: [0x61], text: 'a', finishReason: 'eot', tokenLogprobs: [-0.125], topLogprobs: [alts] };
    model.scoreCalls = [];
    const r = await post(srv.url, { prompt: 'xy', max_tokens: 4, temperature: 0, logprobs: 1 });
    const c = r.json.choices[0]!;
    assert.equal(c.text, 'a');
    assert.equal(c.finish_reason, 'stop');
    const lp = c.logprobs!;
    assert.deepEqual(lp.tokens, ['a', '<|endoftext|>']);
    assert.deepEqual(lp.token_logprobs, [-0.125, ScriptedModel.lp(EOT)]);
    assert.deepEqual(lp.text_offset, [0, 1]);
    assert.deepEqual(model.scoreCalls, [[...enc('xy'), 0x61, EOT]]);
    assert.equal(r.json.usage.completion_tokens, 1, 'usage counts the generated tokens, as before');
    // without logprobs nothing is scored
    model.scoreCalls = [];
    const plain = await post(srv.url, { prompt: 'xy', max_tokens: 4, temperature: 0 });
    assert.equal(plain.json.choices[0]!.logprobs, null);
    assert.deepEqual(model.scoreCalls, []);
  });

  it('streaming: the final chunk of each choice carries every generated token', async () => {
    model.generation = gen;
    const res = await fetch(`${srv.url}/v1/completions`, { method: 'POST', body: JSON.stringify({ prompt: 'xy', max_tokens: 5, logprobs: 0, stream: true, n: 2 }) });
    const events = (await res.text()).split('\n\n').filter((e) => e.startsWith('data: {'));
    const finals = events.map((e) => JSON.parse(e.slice(6)) as Body).flatMap((b) => b.choices).filter((c) => c.finish_reason !== null);
    assert.equal(finals.length, 2);
    for (const c of finals) assert.deepEqual(c.logprobs!.tokens, ['a', 'bytes:\\xe2', 'bytes:\\x82', 'bytes:\\xac', 'bytes:\\xf0']);
  });

  it("lm-eval's scoring request (echo, logprobs 1, temperature 0, max_tokens 1) is one scoring pass, and its last entry is the next token", async () => {
    model.generateCalls = 0;
    model.scoreCalls = [];
    const prompt = [...enc('日本'), 0x41];
    const r = await post(srv.url, { prompt, max_tokens: 1, temperature: 0, logprobs: 1, echo: true, n: 2 });
    assert.equal(model.generateCalls, 0);
    assert.equal(model.scoreCalls.length, 1);
    assert.equal(r.json.choices.length, 2);
    for (const c of r.json.choices) {
      const lp = c.logprobs!;
      assert.equal(lp.tokens.length, prompt.length + 1);
      // the greedy next token is the first byte of a CJK character: an entry, and U+FFFD in the text (as generation
      // ends a row inside a character)
      assert.equal(lp.tokens.at(-1), 'bytes:\\xe6');
      assert.equal(lp.token_logprobs.at(-1), -0.25);
      assert.deepEqual(lp.top_logprobs.at(-1), { 'bytes:\\xe6': -0.25 });
      assert.equal(c.text, '日本A\uFFFD');
      assert.equal(c.finish_reason, 'length');
      assert.deepEqual(lp.text_offset, [0, 0, 0, 1, 1, 1, 2, 3]);
      // the prompt entries are the scores of the prompt, with `logprobs` alternatives
      assert.deepEqual(lp.token_logprobs.slice(0, -1), [null, ...prompt.slice(1).map(ScriptedModel.lp)]);
      assert.deepEqual(Object.keys(lp.top_logprobs[1]!), ['bytes:\\xe6', 'bytes:\\x97']);
    }
    assert.equal(r.json.usage.completion_tokens, 2);
  });

  it('the scoring pass: an end-of-text next token is listed; a stop sequence in the next token cuts it', async () => {
    model.alternatives = [
      { id: EOT, logprob: -0.125 },
      { id: 0x41, logprob: -1 },
    ];
    let r = await post(srv.url, { prompt: 'ab', max_tokens: 1, temperature: 0, logprobs: 2, echo: true });
    let c = r.json.choices[0]!;
    assert.deepEqual(c.logprobs!.tokens, ['a', 'b', '<|endoftext|>']);
    assert.equal(c.logprobs!.token_logprobs[2], -0.125);
    assert.deepEqual(c.logprobs!.top_logprobs[2], { '<|endoftext|>': -0.125, A: -1 });
    assert.equal(c.text, 'ab');
    assert.equal(c.finish_reason, 'stop');
    model.alternatives = [{ id: 0x41, logprob: -0.5 }];
    r = await post(srv.url, { prompt: 'ab', max_tokens: 1, temperature: 0, logprobs: 0, echo: true, stop: ['A'] });
    c = r.json.choices[0]!;
    assert.deepEqual(c.logprobs!.tokens, ['a', 'b']);
    assert.equal(c.text, 'ab');
    assert.equal(c.finish_reason, 'stop');
    r = await post(srv.url, { prompt: 'ab', max_tokens: 1, temperature: 0, logprobs: 0, echo: true });
    c = r.json.choices[0]!;
    assert.deepEqual(c.logprobs!.tokens, ['a', 'b', 'A']);
    assert.equal(c.text, 'abA');
    assert.equal(r.json.usage.completion_tokens, 1);
    assert.equal(model.generateCalls, 0);
  });
});

describe("lm-eval's reading of tessera serve's scoring responses (bytes tokenizer, multi-byte continuations)", () => {
  const dir = makeTinyBytesModelDir();
  let lm: LocalLanguageModel;
  let srv: RunningServer;
  before(async () => {
    lm = LocalLanguageModel.load(dir, { name: 'tiny-bytes' });
    srv = await startServer({ model: lm, port: 0 });
  });
  after(async () => {
    await srv?.close();
    await lm?.close();
  });

  it('sum(token_logprobs[ctxlen:-1]) equals LocalLanguageModel.loglikelihood; is_greedy from top_logprobs agrees', async () => {
    const pairs = [
      { context: 'Tokyo is', continuation: ' 東京' },
      { context: 'smile', continuation: ' 🙂' },
      { context: 'a', continuation: '€' },
      { context: 'clef', continuation: ' 𝄞' },
      { context: '日本', continuation: '語' },
      { context: 'ascii', continuation: ' text' },
    ];
    const want = await lm.loglikelihood(pairs);
    const strings = new TokenStrings(lm.tokenizer);
    let partialLast = 0;
    for (const [i, p] of pairs.entries()) {
      const { context, continuation } = encodePair(lm.tokenizer, p.context, p.continuation);
      const r = await post(srv.url, { model: 'tiny-bytes', prompt: [...context, ...continuation], max_tokens: 1, temperature: 0, logprobs: 1, echo: true, seed: 1234 });
      assert.equal(r.status, 200);
      const lp = r.json.choices[0]!.logprobs!;
      // exactly one entry past the prompt: the generated token, whatever its bytes
      assert.equal(lp.tokens.length, context.length + continuation.length + 1, JSON.stringify(p));
      if (lp.tokens.at(-1)!.startsWith('bytes:')) partialLast++;
      const cont = lp.token_logprobs.slice(context.length, -1) as number[];
      const sum = cont.reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(sum - want[i]!.logprob) < 1e-4, `${JSON.stringify(p)}: ${sum} vs ${want[i]!.logprob}`);
      const tops = lp.top_logprobs.slice(context.length, -1);
      const greedy = cont.every((v, j) => v === Math.max(...Object.values(tops[j]!)));
      assert.equal(greedy, want[i]!.isGreedy, JSON.stringify(p));
      // the greedy next token is the one generation picks (where today's generator reports it)
      const next = (await lm.generateTokens([[...context, ...continuation]], { maxTokens: 1, temperature: 0, logprobs: 0 })).rows[0]!;
      if (next.finishReason === 'eot') assert.equal(lp.tokens.at(-1), '<|endoftext|>');
      else if (next.tokens.length === 1) assert.equal(lp.tokens.at(-1), strings.get(next.tokens[0]!));
    }
    console.log(`# ${partialLast} of ${pairs.length} greedy next tokens are parts of a character`);
  });
});
