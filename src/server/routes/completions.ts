// POST /v1/completions (OpenAI's legacy completions, with vLLM's extensions): prompt as text or token ids, max_tokens,
// temperature, top_p, top_k, n, stop, echo, logprobs, seed, stream (server-sent events).
//
// logprobs has one entry per prompt token (with echo; the first has null log-probability) and then one per generated
// token, whatever its text: tokens that are part of a multi-byte character are written "bytes:\xNN…". A row that the
// end-of-text token ended also lists that token (as vLLM does), so a client reading "the last entry is the generated
// token" (lm-evaluation-harness with max_tokens 1) finds it there. text_offset counts code points of the returned text.
//
// lm-evaluation-harness's scoring request (echo, logprobs, temperature 0, max_tokens 1, prompt within the context) is
// answered from one scoring pass over the prompt plus one position: the prompt's entries and the greedy next token
// come from the same forward, without running the generator.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { TokenGeneration, TopLogprob } from '../../lm/language-model.js';
import type { ServerContext } from '../context.js';
import { readJson, sendJson, type Handler } from '../http.js';
import { codePointLength, concatBlocks, logprobsBlock, textOffsets, type LogprobsBlock } from '../logprobs.js';
import { parseCompletionRequest, type CompletionRequest } from '../validate.js';

/** A completion row: what the model generated, and the end-of-text token that ended it when `g` does not list it. */
interface Row {
  g: TokenGeneration;
  eot?: { logprob: number | null; top: TopLogprob[] };
}

const finishReason = (f: TokenGeneration['finishReason']) => (f === 'length' ? 'length' : 'stop');

const isGreedy = (r: CompletionRequest) => r.temperature === 0 && !r.temperatureSchedule;

/** The prompts' own entries (echo with logprobs), each prompt scored whole (sliding windows past the context). */
async function promptBlocks(sc: ServerContext, promptIds: number[][], k: number, signal: AbortSignal): Promise<LogprobsBlock[]> {
  const out: LogprobsBlock[] = [];
  for (const ids of promptIds) {
    const s = await sc.lm.scoreTokens(ids, k, signal);
    out.push(logprobsBlock(sc.strings, ids, s.logprobs, s.top, textOffsets(sc.tok, ids, 0)));
  }
  return out;
}

/**
 * Greedy one-token completions with echo and logprobs, from one scoring pass per prompt over the prompt and one more
 * position: the prompt's entries, and the argmax of the next-token distribution with its alternatives. Stop and
 * end-of-text handling as in generation. Undefined when it does not apply (then the generator runs).
 */
async function greedyStepByScoring(
  sc: ServerContext,
  r: CompletionRequest,
  promptIds: number[][],
  signal: AbortSignal,
): Promise<{ blocks: LogprobsBlock[]; rows: Row[] } | undefined> {
  if (r.stream || !r.echo || r.logprobs === undefined || r.maxTokens !== 1 || !isGreedy(r)) return undefined;
  const S = sc.contextLength;
  if (promptIds.some((ids) => ids.length < 1 || ids.length > S - 1)) return undefined;
  const k = r.logprobs;
  const V = sc.tok.vocabSize;
  const blocks: LogprobsBlock[] = [];
  const rows: Row[] = [];
  for (const ids of promptIds) {
    const L = ids.length;
    const s = await sc.lm.scoreTokens([...ids, 0], Math.max(1, k), signal);
    const next = s.top?.[L];
    const best = next?.[0];
    if (!best || best.id >= V) return undefined;
    const tops = s.top!.slice(0, L).map((t) => t?.slice(0, k) ?? null);
    blocks.push(logprobsBlock(sc.strings, ids, s.logprobs.slice(0, L), tops, textOffsets(sc.tok, ids, 0)));
    const alternatives = next.slice(0, k);
    let row: Row;
    if (best.id === sc.tok.eotId) {
      row = { g: { tokens: [], text: '', finishReason: 'eot', tokenLogprobs: [], topLogprobs: [] }, eot: { logprob: best.logprob, top: alternatives } };
    } else {
      const raw = sc.tok.decode([best.id]);
      const hit = r.stop.map((x) => raw.indexOf(x)).filter((x) => x >= 0).sort((a, b) => a - b)[0];
      row =
        hit !== undefined
          ? { g: { tokens: [], text: raw.slice(0, hit), finishReason: 'stop', tokenLogprobs: [], topLogprobs: [] } }
          : {
              g: {
                tokens: [best.id],
                // as generation ends a row: an incomplete multi-byte tail decodes to U+FFFD
                text: raw,
                finishReason: 'length',
                tokenLogprobs: [best.logprob],
                topLogprobs: [alternatives],
              },
            };
    }
    for (let j = 0; j < r.n; j++) rows.push({ g: { ...row.g }, ...(row.eot ? { eot: row.eot } : {}) });
  }
  return { blocks, rows };
}

/**
 * For rows the end-of-text token ended (and that do not list it): its log-probability and alternatives, scored after
 * the last context - 1 tokens of prompt + generation (what the generator saw, for generations within the context).
 */
async function addEndOfText(sc: ServerContext, promptIds: number[][], rows: Row[], n: number, k: number, signal: AbortSignal): Promise<void> {
  const eot = sc.tok.eotId;
  if (eot === undefined) return;
  const S = sc.contextLength;
  const memo = new Map<string, Row['eot']>();
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!;
    if (row.g.finishReason !== 'eot' || row.g.tokens.at(-1) === eot) continue;
    const p = Math.floor(i / n);
    const key = `${p}:${row.g.tokens.join(',')}`;
    let e = memo.get(key);
    if (!e) {
      const prompt = promptIds[p]!;
      const ctx = prompt.length > 0 ? prompt : [eot];
      const seq = [...ctx, ...row.g.tokens].slice(-(S - 1));
      seq.push(eot);
      const s = await sc.lm.scoreTokens(seq, k, signal);
      e = { logprob: s.logprobs.at(-1) ?? null, top: s.top?.at(-1) ?? [] };
      memo.set(key, e);
    }
    row.eot = e;
  }
}

/** The generated part of a row's logprobs: one entry per token (and the ending end-of-text token), offsets from `base`. */
function completionBlock(sc: ServerContext, row: Row, base: number): LogprobsBlock {
  const { g } = row;
  const end = base + codePointLength(g.text);
  const ids = [...g.tokens];
  const lps: (number | null)[] = g.tokens.map((_, i) => g.tokenLogprobs?.[i] ?? null);
  const tops: (readonly TopLogprob[] | null)[] = g.tokens.map((_, i) => g.topLogprobs?.[i] ?? null);
  const offsets = textOffsets(sc.tok, g.tokens, base, end);
  if (row.eot && sc.tok.eotId !== undefined) {
    ids.push(sc.tok.eotId);
    lps.push(row.eot.logprob);
    tops.push(row.eot.top);
    offsets.push(end);
  }
  return logprobsBlock(sc.strings, ids, lps, tops, offsets);
}

export function completionsHandler(sc: ServerContext): Handler {
  const { lm, tok } = sc;
  const S = sc.contextLength;

  return async (req: IncomingMessage, res: ServerResponse, { signal }) => {
    const r = parseCompletionRequest(await readJson(req, sc.maxBody), sc.limits);
    sc.checkModel(r.model);
    const promptIds = r.prompts.map((p, i) => (p.kind === 'ids' ? p.ids : sc.encodePrompt(p.text, i)));
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
    const usageOf = (rows: Row[]) => {
      const prompt_tokens = promptIds.reduce((a, p) => a + p.length, 0);
      const completion_tokens = rows.reduce((a, row) => a + row.g.tokens.length, 0);
      return { prompt_tokens, completion_tokens, total_tokens: prompt_tokens + completion_tokens };
    };
    const blockOf = (index: number, row: Row) => completionBlock(sc, row, r.echo ? promptLen[Math.floor(index / r.n)]! : 0);
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
      let blocks: (LogprobsBlock | undefined)[];
      let rows: Row[];
      const scored = await greedyStepByScoring(sc, r, promptIds, signal);
      if (scored) {
        ({ blocks, rows } = scored);
      } else {
        blocks = r.echo && wantLp ? await promptBlocks(sc, promptIds, k, signal) : [];
        rows = (await lm.generateTokens(promptIds, genOpts)).rows.map((g) => ({ g }));
        if (wantLp) await addEndOfText(sc, promptIds, rows, r.n, k, signal);
      }
      const choices = rows.map((row, index) => {
        const p = Math.floor(index / r.n);
        const text = (r.echo ? promptTexts[p]! : '') + row.g.text;
        const logprobs = wantLp ? concatBlocks(blocks[p], blockOf(index, row)) : null;
        return { index, text, logprobs, finish_reason: finishReason(row.g.finishReason), stop_reason: null };
      });
      const body = { id, object: 'text_completion', created: now, model: lm.name, choices, usage: usageOf(rows), ...(warnings.length ? { warnings } : {}) };
      sendJson(res, 200, body, headers);
      return;
    }

    // streaming: server-sent events, text as it is decoded (holding back what could be the start of a stop sequence)
    const blocks = r.echo && wantLp ? await promptBlocks(sc, promptIds, k, signal) : [];
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive', ...headers });
    const send = (data: unknown) => {
      if (!res.writableEnded && !res.destroyed) res.write(`data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`);
    };
    const chunk = (index: number, text: string, logprobs: LogprobsBlock | null, finish: string | null) =>
      send({ id, object: 'text_completion', created: now, model: lm.name, choices: [{ index, text, logprobs, finish_reason: finish, stop_reason: null }] });
    const rowsTotal = promptIds.length * r.n;
    if (r.echo) {
      for (let index = 0; index < rowsTotal; index++) {
        const p = Math.floor(index / r.n);
        chunk(index, promptTexts[p]!, blocks[p] ?? null, null);
      }
    }
    const hold = r.stop.length > 0 ? Math.max(...r.stop.map((s) => s.length)) - 1 : 0;
    const seen = Array.from({ length: rowsTotal }, () => '');
    const sent = new Array<number>(rowsTotal).fill(0);
    const generated = await lm.generateTokens(promptIds, {
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
    const rows: Row[] = generated.rows.map((g) => ({ g }));
    if (wantLp) await addEndOfText(sc, promptIds, rows, r.n, k, signal);
    rows.forEach((row, index) => {
      const rest = row.g.text.slice(Math.min(sent[index]!, row.g.text.length));
      chunk(index, rest, wantLp ? blockOf(index, row) : null, finishReason(row.g.finishReason));
    });
    if (r.includeUsage) send({ id, object: 'text_completion', created: now, model: lm.name, choices: [], usage: usageOf(rows) });
    send('[DONE]');
    res.end();
  };
}
