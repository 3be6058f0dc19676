// The host-side sampling pipeline: logits processors against straightforward references, the samplers' empirical
// distribution, logprob helpers, incremental detokenizing and stop strings across token boundaries, row stopping.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/nn/init.js';
import { temperatureAt } from '../../src/lm/sampling.js';
import { loadTokenizer } from '../../src/tokenizer/index.js';
import {
  AllowedIdRangeProcessor,
  applyProcessors,
  buildProcessors,
  RepetitionPenaltyProcessor,
  TemperatureProcessor,
  TemperatureScheduleProcessor,
  TopKProcessor,
  TopPProcessor,
  type LogitsContext,
} from '../../src/runtime/logits-processors.js';
import {
  buildSamplingPipeline,
  GreedySampler,
  logSoftmaxAt,
  MultinomialSampler,
  samplerFor,
  topLogprobs,
} from '../../src/runtime/sampler.js';
import { IncrementalDetokenizer, RowStopper, StopStringMatcher, type FinishReason } from '../../src/runtime/stopping.js';
import { callbackStreamer } from '../../src/runtime/streamer.js';

const ctx0: LogitsContext = { step: 0, tokens: [], promptLength: 0 };

function randomLogits(rng: Rng, V: number, opts: { scale?: number; quantize?: boolean } = {}): Float32Array {
  const a = new Float32Array(V);
  for (let i = 0; i < V; i++) {
    const x = rng.normal() * (opts.scale ?? 3);
    a[i] = opts.quantize ? Math.round(x * 2) / 2 : x;
  }
  return a;
}

function refTopK(logits: Float32Array, k: number): Float32Array {
  const sorted = Array.from(logits).sort((a, b) => b - a);
  const thr = sorted[Math.min(k, logits.length) - 1]!;
  return logits.map((x) => (x < thr ? -Infinity : x));
}

/** HF's TopPLogitsWarper: ascending sort, cumulative softmax, remove where cum <= 1 - p, keep the largest. */
function refTopP(logits: Float32Array, p: number): Float32Array {
  const xs = Array.from(logits);
  const ids = xs.map((_, i) => i).sort((a, b) => (xs[a]! < xs[b]! ? -1 : xs[a]! > xs[b]! ? 1 : b - a));
  const max = Math.max(...xs);
  const z = xs.reduce((s, x) => s + Math.exp(x - max), 0);
  const out = Float32Array.from(logits);
  let cum = 0;
  for (let j = 0; j < ids.length - 1; j++) {
    cum += Math.exp(xs[ids[j]!]! - max) / z;
    if (cum <= 1 - p) out[ids[j]!] = -Infinity;
  }
  return out;
}

function softmax(logits: Float32Array): number[] {
  const max = Math.max(...logits);
  const e = Array.from(logits, (x) => Math.exp(x - max));
  const z = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / z);
}

describe('logits processors', () => {
  it('repetition penalty follows the HF / CTRL formula, once per distinct token (prompt included)', () => {
    const logits = Float32Array.from([2, -1, 0.5, -3, 4, 0]);
    const p = new RepetitionPenaltyProcessor(1.5);
    p.process(logits, { step: 2, tokens: [0, 1, 1, 3, 0, 5], promptLength: 4 });
    assert.deepEqual(Array.from(logits), [2 / 1.5, -1 * 1.5, 0.5, -3 * 1.5, 4, 0].map(Math.fround));
    // a second row through the same processor is not affected by the first one's tokens
    const row2 = Float32Array.from([2, -1, 0.5, -3, 4, 0]);
    p.process(row2, { step: 0, tokens: [4], promptLength: 1 });
    assert.deepEqual(Array.from(row2), [2, -1, 0.5, -3, 4 / 1.5, 0].map(Math.fround));
    assert.throws(() => p.process(new Float32Array(3), { step: 0, tokens: [3], promptLength: 1 }), /token id 3 .* outside the vocabulary \[0, 3\)/);
    assert.throws(() => new RepetitionPenaltyProcessor(0), /repetitionPenalty must be a finite number > 0, got 0/);
  });

  it('allowed id range keeps exactly [lo, hi) and checks hi against the row', () => {
    const logits = Float32Array.from([1, 2, 3, 4, 5, 6]);
    new AllowedIdRangeProcessor(2, 5).process(logits);
    assert.deepEqual(Array.from(logits), [-Infinity, -Infinity, 3, 4, 5, -Infinity]);
    const all = Float32Array.from([1, 2, 3]);
    new AllowedIdRangeProcessor(0, 3).process(all);
    assert.deepEqual(Array.from(all), [1, 2, 3]);
    assert.throws(() => new AllowedIdRangeProcessor(0, 7).process(new Float32Array(6)), /allowedIdRange \[0, 7\) exceeds the vocabulary: logits have length 6/);
    assert.throws(() => new AllowedIdRangeProcessor(5, 3), /allowedIdRange must be \[lo, hi\) with integers 0 <= lo < hi, got \[5, 3\]/);
    assert.throws(() => new AllowedIdRangeProcessor(-1, 3), /allowedIdRange/);
    assert.throws(() => new AllowedIdRangeProcessor(1.5, 3), /allowedIdRange/);
  });

  it('temperature divides; the schedule matches temperatureAt step by step', () => {
    const logits = Float32Array.from([1, -2, 0.5]);
    new TemperatureProcessor(0.5).process(logits);
    assert.deepEqual(Array.from(logits), [2, -4, 1]);
    const schedule = { start: 10, end: 1, over: 20 };
    const proc = new TemperatureScheduleProcessor(schedule);
    for (let step = 0; step < 30; step++) {
      assert.equal(proc.temperatureAt(step), temperatureAt(step, { temperatureSchedule: schedule }), `step ${step}`);
      const row = Float32Array.from([3, -6]);
      proc.process(row, { step, tokens: [], promptLength: 0 });
      const t = temperatureAt(step, { temperatureSchedule: schedule });
      assert.ok(Math.abs(row[0]! - 3 / t) < 1e-5 && Math.abs(row[1]! + 6 / t) < 1e-5, `step ${step}`);
    }
    assert.equal(proc.temperatureAt(0), 10);
    assert.equal(proc.temperatureAt(10), 5.5);
    assert.equal(proc.temperatureAt(20), 1);
    assert.equal(proc.temperatureAt(1000), 1);
  });

  it('top-k matches a sort-based reference, ties at the threshold kept (200 random rows)', () => {
    const rng = new Rng(11);
    for (let c = 0; c < 200; c++) {
      const V = 1 + rng.int(300);
      const logits = randomLogits(rng, V, { quantize: c % 2 === 0 });
      if (c % 5 === 0) for (let i = 0; i < V; i += 3) logits[i] = -Infinity; // some ids already removed
      const k = 1 + rng.int(V + 5);
      const expected = refTopK(logits, k);
      new TopKProcessor(k).process(logits);
      assert.deepEqual(Array.from(logits), Array.from(expected), `case ${c}: V=${V} k=${k}`);
    }
    for (const order of ['ascending', 'descending'] as const) {
      const sorted = Float32Array.from({ length: 1000 }, (_, i) => (order === 'ascending' ? i : -i));
      const expected = refTopK(sorted, 10);
      new TopKProcessor(10).process(sorted);
      assert.deepEqual(Array.from(sorted), Array.from(expected), order);
    }
    const small = Float32Array.from([3, 1, 2]);
    new TopKProcessor(5).process(small);
    assert.deepEqual(Array.from(small), [3, 1, 2]);
    const tied = Float32Array.from([1, 3, 3, 3, 2]);
    new TopKProcessor(2).process(tied);
    assert.deepEqual(Array.from(tied), [-Infinity, 3, 3, 3, -Infinity]);
  });

  it('top-p matches HF semantics on random logits, alone and after top-k (200 random rows)', () => {
    const rng = new Rng(12);
    for (let c = 0; c < 200; c++) {
      const V = 2 + rng.int(400);
      const logits = randomLogits(rng, V, { scale: 0.5 + rng.uniform() * 4 });
      if (c % 2 === 1) new TopKProcessor(1 + rng.int(50)).process(logits);
      const p = c % 10 === 0 ? 1e-6 : 0.05 + rng.uniform() * 0.95;
      const expected = refTopP(logits, p);
      new TopPProcessor(p).process(logits);
      assert.deepEqual(Array.from(logits), Array.from(expected), `case ${c}: V=${V} p=${p}`);
      assert.ok(logits.some((x) => x > -Infinity), 'at least one token survives');
    }
    // full-vocabulary rows, and spreads wide enough that the sorted prefix reaches far below the maximum
    for (const [V, scale, p] of [
      [50257, 3, 0.9],
      [50257, 1, 0.5],
      [3000, 8, 0.999],
      [3000, 20, 0.999999],
      [500, 0.001, 0.3],
    ] as const) {
      const logits = randomLogits(rng, V, { scale });
      const expected = refTopP(logits, p);
      new TopPProcessor(p).process(logits);
      assert.deepEqual(Array.from(logits), Array.from(expected), `V=${V} scale=${scale} p=${p}`);
    }
    const one = Float32Array.from([0, 5, 1]);
    new TopPProcessor(0.01).process(one);
    assert.deepEqual(Array.from(one), [-Infinity, 5, -Infinity]);
    const unchanged = Float32Array.from([0, 5, 1]);
    new TopPProcessor(1).process(unchanged);
    assert.deepEqual(Array.from(unchanged), [0, 5, 1]);
  });

  it('buildProcessors: HF order, "off" values build nothing', () => {
    const names = buildProcessors({
      topP: 0.9,
      topK: 40,
      temperature: 0.7,
      allowedIdRange: [0, 100],
      repetitionPenalty: 1.2,
    }).map((p) => p.name);
    assert.deepEqual(names, ['repetition-penalty', 'allowed-id-range', 'temperature', 'top-k', 'top-p']);
    assert.deepEqual(buildProcessors({}), []);
    assert.deepEqual(buildProcessors({ topK: 0, topP: 1, repetitionPenalty: 1, temperature: 1 }), []);
    const scheduled = buildProcessors({ temperature: 0.5, temperatureSchedule: { start: 10, end: 1, over: 20 } });
    assert.deepEqual(scheduled.map((p) => p.name), ['temperature-schedule']);
  });

  it('bad values are refused up front, naming the parameter and the allowed range', () => {
    assert.throws(() => buildProcessors({ topP: 1.5 }), /topP must be in \(0, 1\], got 1.5/);
    assert.throws(() => buildProcessors({ topP: 0 }), /topP must be in \(0, 1\], got 0/);
    assert.throws(() => buildProcessors({ topP: NaN }), /topP must be in \(0, 1\], got NaN/);
    assert.throws(() => buildProcessors({ topK: -1 }), /topK must be an integer >= 1 \(0 = off\), got -1/);
    assert.throws(() => buildProcessors({ topK: 2.5 }), /topK must be an integer >= 1 \(0 = off\), got 2.5/);
    assert.throws(() => buildProcessors({ temperature: 0 }), /temperature must be a finite number > 0, got 0 \(temperature 0 means greedy/);
    assert.throws(() => buildProcessors({ temperature: -1 }), /temperature must be a finite number > 0, got -1/);
    assert.throws(() => buildProcessors({ repetitionPenalty: 0 }), /repetitionPenalty must be a finite number > 0, got 0/);
    assert.throws(() => buildProcessors({ repetitionPenalty: Infinity }), /repetitionPenalty must be a finite number > 0, got Infinity/);
    assert.throws(() => buildProcessors({ allowedIdRange: [5, 3] }), /allowedIdRange must be \[lo, hi\) with integers 0 <= lo < hi, got \[5, 3\]/);
    assert.throws(() => buildProcessors({ temperatureSchedule: { start: 10, end: 1, over: 0 } }), /temperatureSchedule.over must be a finite number > 0, got 0/);
    assert.throws(() => buildProcessors({ temperatureSchedule: { start: 0, end: 1, over: 5 } }), /temperatureSchedule.start must be/);
    assert.throws(() => new TopKProcessor(0), /topK must be an integer >= 1, got 0/);
    assert.throws(() => new TopPProcessor(-0.1), /topP must be in \(0, 1\], got -0.1/);
    assert.throws(() => new TopKProcessor(3).process(Float32Array.from([1, NaN, 2, 3])), /top-k: logits\[1\] is NaN/);
    assert.throws(() => new TopPProcessor(0.5).process(Float32Array.from([1, Infinity])), /top-p: logits\[1\] is Infinity/);
  });

  it('top-k on V = 50257, k = 40 handles 1000 rows quickly', () => {
    const rng = new Rng(13);
    const sources = [randomLogits(rng, 50257), randomLogits(rng, 50257, { quantize: true }), randomLogits(rng, 50257, { scale: 0.01 })];
    const row = new Float32Array(50257);
    const topK = new TopKProcessor(40);
    const t0 = performance.now();
    for (let r = 0; r < 1000; r++) {
      row.set(sources[r % sources.length]!);
      topK.process(row);
    }
    const ms = performance.now() - t0;
    assert.ok(ms < 5000, `1000 rows took ${ms.toFixed(0)} ms`);
    let kept = 0;
    for (const x of row) if (x > -Infinity) kept++;
    assert.equal(kept, 40);
  });
});

describe('samplers', () => {
  it('greedy: argmax, lowest id on ties, refuses an empty row', () => {
    const g = new GreedySampler();
    const rng = new Rng(1);
    assert.equal(g.select(Float32Array.from([0.1, 2.5, -1, 2.5, 0]), rng), 1);
    assert.equal(g.select(Float32Array.from([-Infinity, -Infinity, -3]), rng), 2);
    assert.throws(() => g.select(Float32Array.from([-Infinity, -Infinity]), rng), /no token left/);
    assert.throws(() => g.select(Float32Array.from([1, NaN]), rng), /logits\[1\] is NaN/);
  });

  it('samplerFor: greedy for greedy or temperature 0 without a schedule', () => {
    assert.ok(samplerFor({ greedy: true }) instanceof GreedySampler);
    assert.ok(samplerFor({ temperature: 0 }) instanceof GreedySampler);
    assert.ok(samplerFor({ temperature: 0, temperatureSchedule: { start: 2, end: 1, over: 3 } }) instanceof MultinomialSampler);
    assert.ok(samplerFor({}) instanceof MultinomialSampler);
    assert.ok(samplerFor({ temperature: 0.7 }) instanceof MultinomialSampler);
  });

  it('buildSamplingPipeline: greedy keeps only the penalty and range processors', () => {
    const g = buildSamplingPipeline({ temperature: 0, topK: 5, topP: 0.5, repetitionPenalty: 1.3, allowedIdRange: [0, 10] });
    assert.ok(g.sampler instanceof GreedySampler);
    assert.deepEqual(g.processors.map((p) => p.name), ['repetition-penalty', 'allowed-id-range']);
    assert.throws(() => buildSamplingPipeline({ greedy: true, topP: 2 }), /topP must be in \(0, 1\], got 2/);
    const s = buildSamplingPipeline({ temperature: 0.8, topK: 5 });
    assert.ok(s.sampler instanceof MultinomialSampler);
    assert.deepEqual(s.processors.map((p) => p.name), ['temperature', 'top-k']);
  });

  it('multinomial: empirical distribution after temperature, top-k and top-p matches the expected probabilities', () => {
    const rng = new Rng(21);
    for (const o of [
      { temperature: 0.8, topK: 12, topP: 0.9 },
      { topK: 5 },
      { topP: 0.7, temperature: 1.5 },
      { temperature: 1 },
    ]) {
      const logits = randomLogits(rng, 40, { scale: 1.5 });
      applyProcessors(buildProcessors(o), logits, ctx0);
      const survivors = Array.from(logits, (x, i) => [x, i] as const).filter(([x]) => x > -Infinity);
      const probs = softmax(Float32Array.from(survivors, ([x]) => x));
      const N = 40000;
      const counts = new Map<number, number>();
      const sampler = new MultinomialSampler();
      for (let n = 0; n < N; n++) {
        const id = sampler.select(logits, rng);
        counts.set(id, (counts.get(id) ?? 0) + 1);
      }
      for (const id of counts.keys()) assert.ok(logits[id]! > -Infinity, `drew removed id ${id}`);
      let chi2 = 0;
      survivors.forEach(([, id], j) => {
        const expected = N * probs[j]!;
        chi2 += ((counts.get(id) ?? 0) - expected) ** 2 / expected;
      });
      const df = Math.max(1, survivors.length - 1);
      assert.ok(chi2 < df + 6 * Math.sqrt(2 * df) + 10, `${JSON.stringify(o)}: chi2 ${chi2.toFixed(1)} for df ${df}`);
    }
  });

  it('multinomial: a single survivor is always drawn; an empty row is refused', () => {
    const rng = new Rng(3);
    const logits = new Float32Array(1000).fill(-Infinity);
    logits[417] = -50;
    const s = new MultinomialSampler();
    for (let i = 0; i < 50; i++) assert.equal(s.select(logits, rng), 417);
    assert.throws(() => s.select(new Float32Array(4).fill(-Infinity), rng), /no token left/);
    assert.throws(() => s.select(Float32Array.from([0, NaN]), rng), /logits\[1\] is NaN/);
  });

  it('logSoftmaxAt and topLogprobs agree with a float64 log-softmax of the raw logits', () => {
    const rng = new Rng(5);
    const logits = randomLogits(rng, 257, { quantize: true });
    const max = Math.max(...logits);
    const lse = max + Math.log(Array.from(logits).reduce((s, x) => s + Math.exp(x - max), 0));
    for (const id of [0, 17, 256]) assert.ok(Math.abs(logSoftmaxAt(logits, id) - (logits[id]! - lse)) < 1e-9);
    const top = topLogprobs(logits, 10);
    const ref = Array.from(logits, (x, id) => ({ id, logprob: x - lse }))
      .sort((a, b) => b.logprob - a.logprob || a.id - b.id)
      .slice(0, 10);
    assert.equal(top.length, 10);
    top.forEach((t, j) => {
      assert.equal(t.id, ref[j]!.id, `rank ${j}`);
      assert.ok(Math.abs(t.logprob - ref[j]!.logprob) < 1e-9);
    });
    assert.deepEqual(topLogprobs(Float32Array.from([1, 3, 3, 2]), 3).map((t) => t.id), [1, 2, 3]);
    assert.equal(topLogprobs(Float32Array.from([1, 2]), 5).length, 2);
    assert.deepEqual(topLogprobs(Float32Array.from([1, 2]), 0), []);
    assert.throws(() => logSoftmaxAt(logits, 257), /id must be an integer in \[0, 257\), got 257/);
    assert.throws(() => topLogprobs(logits, -1), /k must be an integer >= 0, got -1/);
  });
});

const gpt2 = loadTokenizer('gpt2');
const gpt2Bytes = (ids: number[]) => gpt2.decodeBytes(ids);
const utf8 = new TextEncoder();

/** decodeBytes over a table of byte strings (token id = index). */
function byteTable(pieces: (string | number[])[]): (ids: number[]) => Uint8Array {
  const table = pieces.map((p) => (typeof p === 'string' ? utf8.encode(p) : Uint8Array.from(p)));
  return (ids) => {
    const parts = ids.map((id) => table[id]!);
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  };
}

describe('incremental detokenizing', () => {
  it('gpt2: emoji and CJK split across tokens come out whole, once complete', () => {
    const text = 'Hi 😀🎉 你好，世界！ naïve café 🇫🇷 done';
    const ids = gpt2.encode(text);
    const d = new IncrementalDetokenizer(gpt2Bytes);
    const pieces = ids.map((id) => d.push(id));
    assert.ok(pieces.some((p) => p === ''), 'some token ends inside a multi-byte character');
    assert.ok(pieces.every((p) => !p.includes('\ufffd')));
    assert.equal(pieces.join('') + d.flush(), text);
    assert.equal(d.tokens, ids.length);
  });

  it('an incomplete tail becomes U+FFFD on flush', () => {
    const emoji = Array.from(utf8.encode('😀'));
    const d = new IncrementalDetokenizer(byteTable(['a', emoji.slice(0, 2)]));
    assert.equal(d.push(0), 'a');
    assert.equal(d.push(1), '');
    assert.equal(d.pendingBytes, 2);
    assert.equal(d.flush(), '\ufffd');
    assert.throws(() => d.push(0), /after flush/);
  });

  it('random bytes: the held-back byte count matches TextDecoder, the text matches a one-shot decode', () => {
    const rng = new Rng(8);
    const interesting = [0x41, 0x80, 0xbf, 0xc2, 0xc0, 0xdf, 0xe0, 0xa0, 0xed, 0x9f, 0xef, 0xf0, 0x90, 0xf4, 0x8f, 0xf5, 0xff];
    for (let c = 0; c < 100; c++) {
      const pieces: number[][] = [];
      for (let t = 0; t < 30; t++) pieces.push(Array.from({ length: rng.int(4) }, () => (rng.uniform() < 0.7 ? interesting[rng.int(interesting.length)]! : rng.int(256))));
      const d = new IncrementalDetokenizer(byteTable(pieces));
      let out = '';
      const all: number[] = [];
      for (let id = 0; id < pieces.length; id++) {
        out += d.push(id);
        all.push(...pieces[id]!);
        const settled = all.slice(0, all.length - d.pendingBytes);
        assert.equal(out, new TextDecoder().decode(Uint8Array.from(settled)), `case ${c} token ${id}`);
      }
      out += d.flush();
      assert.equal(out, new TextDecoder().decode(Uint8Array.from(all)), `case ${c}`);
    }
  });
});

describe('stop strings', () => {
  it('a stop string split across pieces ("\\n" + "\\nabc") is found and cut', () => {
    const m = new StopStringMatcher(['\n\n']);
    assert.deepEqual(m.push('Hello'), { visible: 'Hello', hit: false });
    assert.deepEqual(m.push(' world\n'), { visible: ' world', hit: false });
    assert.equal(m.pending, '\n');
    assert.deepEqual(m.push('\nabc'), { visible: '', hit: true });
    assert.equal(m.text, 'Hello world');
    assert.equal(m.matched, '\n\n');
    assert.deepEqual(m.push('more'), { visible: '', hit: true });
    assert.equal(m.finish(), '');
  });

  it('held-back prefixes are released when they stop matching, and by finish()', () => {
    const m = new StopStringMatcher(['</end>', 'STOP']);
    assert.deepEqual(m.push('a</e'), { visible: 'a', hit: false });
    assert.deepEqual(m.push('x'), { visible: '</ex', hit: false });
    assert.deepEqual(m.push('ST'), { visible: '', hit: false });
    assert.equal(m.finish(), 'ST');
    assert.equal(m.text, 'a</exST');
  });

  it('the leftmost of several stop strings completed by one piece wins', () => {
    const m = new StopStringMatcher(['cd', 'abcde']);
    assert.deepEqual(m.push('xxabcdef'), { visible: 'xx', hit: true });
    assert.equal(m.matched, 'abcde');
  });

  it('random splits: concatenated visible text is the full text cut at the stop string', () => {
    const rng = new Rng(9);
    const alphabet = ['a', 'b', '\n', '😀', 'é'];
    for (let c = 0; c < 300; c++) {
      const full = Array.from({ length: 40 }, () => alphabet[rng.int(alphabet.length)]!).join('');
      const stop = Array.from({ length: 1 + rng.int(3) }, () => alphabet[rng.int(3)]!).join('');
      const m = new StopStringMatcher([stop]);
      let out = '';
      let hit = false;
      for (let at = 0; at < full.length && !hit; ) {
        const n = 1 + rng.int(5);
        const r = m.push(full.slice(at, at + n));
        at += n;
        out += r.visible;
        hit = r.hit;
        assert.ok(full.startsWith(out) && (full.indexOf(stop) < 0 || out.length <= full.indexOf(stop)), `case ${c}: emitted part of the stop`);
      }
      if (!hit) out += m.finish();
      const cut = full.indexOf(stop);
      assert.equal(out, cut < 0 ? full : full.slice(0, cut), `case ${c}: stop ${JSON.stringify(stop)}`);
      assert.equal(m.text, out);
    }
  });

  it('empty stop strings are refused', () => {
    assert.throws(() => new StopStringMatcher(['ok', '']), /stop strings must be non-empty strings, stop\[1\] is ""/);
  });
});

describe('RowStopper', () => {
  it('gpt2: stop "\\n\\n" after emoji and CJK; visible text is the decode cut at the stop; kept tokens precede it', () => {
    const full = 'Emoji 😀 and 中文字符 here.\n\nNext paragraph 🎉';
    const ids = gpt2.encode(full);
    const s = new RowStopper({ maxTokens: 100, eotId: gpt2.eotId, stop: ['\n\n'], decodeBytes: gpt2Bytes });
    let visible = '';
    let last: ReturnType<RowStopper['push']> | undefined;
    for (const id of ids) {
      last = s.push(id);
      visible += last.text;
      if (last.done) break;
    }
    const expected = full.slice(0, full.indexOf('\n\n'));
    assert.equal(last?.finish, 'stop');
    assert.equal(visible, expected);
    assert.equal(s.text, expected);
    const keep = s.tokensForText();
    const stopByte = utf8.encode(expected).length;
    assert.ok(gpt2.decodeBytes(ids.slice(0, keep)).length <= stopByte, 'kept tokens end before the stop string');
    assert.ok(gpt2.decodeBytes(ids.slice(0, keep + 1)).length > stopByte, 'the next token holds its first byte');
    assert.ok(expected.startsWith(gpt2.decode(ids.slice(0, keep))));
    assert.throws(() => s.push(ids[0]!), /push after the row finished \('stop'\)/);
  });

  it('a stop string whose first character is split across tokens drops the token holding its first byte', () => {
    // "ab世界cd", stop "界": 世 = e4 b8 96, 界 = e7 95 8c
    const decodeBytes = byteTable([[0x61, 0x62, 0xe4, 0xb8], [0x96, 0xe7], [0x95, 0x8c, 0x63], 'd']);
    const s = new RowStopper({ maxTokens: 10, stop: ['界'], decodeBytes });
    assert.deepEqual(s.push(0), { done: false, text: 'ab', keepToken: true });
    assert.deepEqual(s.push(1), { done: false, text: '世', keepToken: true });
    assert.deepEqual(s.push(2), { done: true, finish: 'stop', text: '', keepToken: true });
    assert.equal(s.text, 'ab世');
    assert.equal(s.tokensForText(), 1);
  });

  it('eot ends the row without keeping the token; held-back text and an incomplete tail are released', () => {
    const decodeBytes = byteTable(['x', '\n', [0xe4, 0xb8], '<eot>']);
    const s = new RowStopper({ maxTokens: 10, eotId: 3, stop: ['\n\n'], decodeBytes });
    assert.deepEqual(s.push(0), { done: false, text: 'x', keepToken: true });
    assert.deepEqual(s.push(1), { done: false, text: '', keepToken: true });
    assert.deepEqual(s.push(2), { done: false, text: '', keepToken: true });
    assert.deepEqual(s.push(3), { done: true, finish: 'eot', text: '\n\ufffd', keepToken: false });
    assert.equal(s.text, 'x\n\ufffd');
    assert.equal(s.generated, 4);
    assert.equal(s.tokensForText(), 3);
  });

  it('maxTokens ends the row with "length", releasing held-back text', () => {
    const decodeBytes = byteTable(['a', 'S', 'T']);
    const s = new RowStopper({ maxTokens: 3, stop: ['STOP'], decodeBytes });
    assert.equal(s.push(0).text, 'a');
    assert.equal(s.push(1).text, '');
    assert.deepEqual(s.push(2), { done: true, finish: 'length', text: 'ST', keepToken: true });
    assert.equal(s.tokensForText(), 3);
    const plain = new RowStopper({ maxTokens: 2, eotId: 7 });
    assert.deepEqual(plain.push(1), { done: false, text: '', keepToken: true });
    assert.deepEqual(plain.push(7), { done: true, finish: 'eot', text: '', keepToken: false });
    assert.equal(plain.tokensForText(), 1);
  });

  it('bad options are refused naming the parameter', () => {
    assert.throws(() => new RowStopper({ maxTokens: 0 }), /maxTokens must be an integer >= 1, got 0/);
    assert.throws(() => new RowStopper({ maxTokens: 1.5 }), /maxTokens must be an integer >= 1, got 1.5/);
    assert.throws(() => new RowStopper({ maxTokens: 4, eotId: -2 }), /eotId must be an integer >= 0, got -2/);
    assert.throws(() => new RowStopper({ maxTokens: 4, stop: ['x'] }), /stop strings need decodeBytes/);
    assert.throws(() => new RowStopper({ maxTokens: 4, stop: [''], decodeBytes: gpt2Bytes }), /stop strings must be non-empty/);
  });

  it('streams through a callback streamer, row by row', () => {
    const got: string[] = [];
    const ends: [number, FinishReason][] = [];
    const streamer = callbackStreamer(
      (row, text) => got.push(`${row}:${text}`),
      (row, finish) => ends.push([row, finish]),
    );
    const decodeBytes = byteTable(['he', 'llo', '\n', '\n', 'x']);
    const rows = [new RowStopper({ maxTokens: 9, stop: ['\n\n'], decodeBytes }), new RowStopper({ maxTokens: 2, decodeBytes })];
    const streams = [
      [0, 1, 2, 3, 4],
      [4, 4],
    ];
    for (let step = 0; step < 5; step++) {
      rows.forEach((s, row) => {
        if (s.done) return;
        const r = s.push(streams[row]![step]!);
        streamer.put(row, r.text);
        if (r.done) streamer.end(row, r.finish!);
      });
    }
    assert.deepEqual(got, ['0:he', '1:x', '0:llo', '1:x']);
    assert.deepEqual(ends, [
      [1, 'length'],
      [0, 'stop'],
    ]);
  });
});
