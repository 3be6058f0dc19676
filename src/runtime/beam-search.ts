// Beam search for free-form answers (GPT-3 §2.4: beam width 4, length penalty α = 0.6), independent of how the model
// runs: a BeamStepper owns W decoding rows sharing one prompt and returns next-token logits for them (a KV-cache
// implementation reorders its cache rows; RecomputeStepper below re-runs every sequence from scratch).
//
// The search follows Hugging Face transformers' `_beam_search` (v5, generation/utils.py) for decoder-only models:
// - scores are cumulative log-softmax log-probs (float64 here, float32 there); beam 0 starts at 0, the other rows at
//   -∞ (HF: -1e9), so the first step only expands the prompt once;
// - each step keeps the top K = 2·W candidates over W×V (ties: lower row, then lower token id first);
// - a candidate that ends a hypothesis (eot token, a stop string, or the maxTokens-th token) is finalised only if it
//   ranks within the first W of the step's candidates, with score = logprob / penalty(len), where len is the number
//   of generated tokens including the one that ended it (the eot token counts; the prompt does not);
// - the next running beams are the best W candidates that did not end;
// - the finished set keeps the best W hypotheses; at the last step (maxTokens) every top-W candidate ends, so the
//   running beams enter the finished set with their penalised scores;
// - stopping: earlyStopping true stops as soon as W hypotheses are finished; false stops once W are finished and the
//   best running beam, penalised at its current length, cannot beat the worst finished one; 'never' does the same
//   but penalises the running beam at maxTokens when α > 0 (the best a longer continuation could reach).
// With lengthPenaltyStyle 'gnmt' only the penalty function changes (((5 + len) / 6)^α instead of len^α).

/** A batch of `rows` decoding rows sharing one prompt. */
export interface BeamStepper {
  readonly vocabSize: number;
  /** Run the prompt once; returns next-token logits (V) after the prompt (all rows start as copies of it). */
  start(prompt: number[], rows: number): Promise<Float32Array>;
  /** Reorder rows first (row i becomes a copy of old row parents[i]), then append tokens[i] to row i; returns logits (rows × V). */
  step(parents: number[], tokens: number[]): Promise<Float32Array>;
  release?(): Promise<void>;
}

export interface BeamSearchOptions {
  /** Beam width W, an integer in [1, V]. W = 1 is greedy decoding (except earlyStopping 'never' with α > 0). */
  numBeams: number;
  /** Most tokens generated per hypothesis (the eot token included). */
  maxTokens: number;
  /** α, default 1 (the Hugging Face default). Negative values favour short hypotheses. */
  lengthPenalty?: number;
  /** 'hf' (default): score = logprob / len^α; 'gnmt': score = logprob / ((5 + len) / 6)^α. */
  lengthPenaltyStyle?: 'hf' | 'gnmt';
  /** Hugging Face semantics (default false): see the header of this file. */
  earlyStopping?: boolean | 'never';
  /** End-of-text token: a candidate ending with it is a finished hypothesis. */
  eotId?: number;
  /** How many hypotheses to return (n-best), in [1, numBeams]; default numBeams. */
  numReturn?: number;
  /** A hypothesis whose decoded generated text contains one of these ends there (text cut before it). Needs `decode`. */
  stop?: string[];
  /** Token ids → text, for stop strings and BeamHypothesis.text. */
  decode?: (ids: number[]) => string;
  /** The eot token is masked (log-prob −∞) until this many tokens have been generated (HF min_new_tokens). */
  minTokens?: number;
}

export interface BeamHypothesis {
  /** Generated token ids (after the prompt; the eot token and a cut-off stop string's tokens excluded). */
  tokens: number[];
  /** Length-penalised score: logprob / penalty(length). */
  score: number;
  /** Sum of the log-probs of all `length` scored tokens (the eot token and stop-string tokens included). */
  logprob: number;
  /** Number of generated tokens scored (the length used in the penalty). */
  length: number;
  finish: 'eot' | 'stop' | 'length';
  /** With `decode`: the generated text (stop string and everything after it cut off). */
  text?: string;
}

/** hf: len^α; gnmt: ((5 + len) / 6)^α (Wu et al. 2016). */
export function lengthPenalty(len: number, alpha: number, style: 'hf' | 'gnmt'): number {
  if (style === 'hf') return len ** alpha;
  if (style === 'gnmt') return ((5 + len) / 6) ** alpha;
  throw new Error(`lengthPenaltyStyle must be 'hf' or 'gnmt', got ${String(style)}`);
}

interface Beam {
  tokens: number[];
  score: number;
}

interface Candidate {
  parent: number;
  token: number;
  score: number;
  /** Why this candidate ends its hypothesis, if it does. */
  end?: 'eot' | 'stop' | 'length';
  /** Stop-string cut: the visible text. */
  text?: string;
}

interface Finished {
  tokens: number[];
  logprob: number;
  score: number;
  finish: 'eot' | 'stop' | 'length';
  text?: string;
}

const isInt = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x);

function validate(stepper: BeamStepper, prompt: number[], o: BeamSearchOptions): void {
  const V = stepper.vocabSize;
  if (!isInt(V) || V < 1) throw new Error(`stepper.vocabSize must be a positive integer, got ${String(V)}`);
  if (!isInt(o.numBeams) || o.numBeams < 1 || o.numBeams > V) throw new Error(`numBeams must be an integer in [1, ${V}], got ${String(o.numBeams)}`);
  if (!isInt(o.maxTokens) || o.maxTokens < 1) throw new Error(`maxTokens must be an integer >= 1, got ${String(o.maxTokens)}`);
  if (o.numReturn !== undefined && (!isInt(o.numReturn) || o.numReturn < 1 || o.numReturn > o.numBeams))
    throw new Error(`numReturn must be an integer in [1, ${o.numBeams}] (numBeams), got ${String(o.numReturn)}`);
  if (o.lengthPenalty !== undefined && !(typeof o.lengthPenalty === 'number' && Number.isFinite(o.lengthPenalty)))
    throw new Error(`lengthPenalty must be a finite number, got ${String(o.lengthPenalty)}`);
  if (o.lengthPenaltyStyle !== undefined && o.lengthPenaltyStyle !== 'hf' && o.lengthPenaltyStyle !== 'gnmt')
    throw new Error(`lengthPenaltyStyle must be 'hf' or 'gnmt', got ${String(o.lengthPenaltyStyle)}`);
  if (o.earlyStopping !== undefined && typeof o.earlyStopping !== 'boolean' && o.earlyStopping !== 'never')
    throw new Error(`earlyStopping must be true, false or 'never', got ${String(o.earlyStopping)}`);
  if (o.eotId !== undefined && (!isInt(o.eotId) || o.eotId < 0 || o.eotId >= V)) throw new Error(`eotId must be an integer in [0, ${V - 1}], got ${String(o.eotId)}`);
  if (o.minTokens !== undefined && (!isInt(o.minTokens) || o.minTokens < 0)) throw new Error(`minTokens must be an integer >= 0, got ${String(o.minTokens)}`);
  if (o.stop !== undefined && (!Array.isArray(o.stop) || o.stop.some((s) => typeof s !== 'string'))) throw new Error('stop must be an array of strings');
  if (o.stop?.some((s) => s.length > 0) && !o.decode) throw new Error('stop strings need a decode function');
  if (!Array.isArray(prompt) || prompt.length === 0) throw new Error('prompt must be a non-empty array of token ids');
  for (const t of prompt) if (!isInt(t) || t < 0 || t >= V) throw new Error(`prompt token ${String(t)} is not an integer in [0, ${V - 1}]`);
}

/** Number of leading tokens whose decoding fits in `text` (drops the tokens of a cut-off stop string). */
function countTokensFor(decode: (ids: number[]) => string, ids: number[], text: string): number {
  for (let n = ids.length; n >= 0; n--) if (decode(ids.slice(0, n)).length <= text.length) return n;
  return 0;
}

/**
 * Beam search over `stepper` from `prompt`; returns up to `numReturn` hypotheses, best (highest score) first.
 * Fewer are returned only in degenerate cases (e.g. every continuation has log-prob −∞). The stepper is not released.
 */
export async function beamSearch(stepper: BeamStepper, prompt: number[], o: BeamSearchOptions): Promise<BeamHypothesis[]> {
  validate(stepper, prompt, o);
  const V = stepper.vocabSize;
  const W = o.numBeams;
  const alpha = o.lengthPenalty ?? 1;
  const style = o.lengthPenaltyStyle ?? 'hf';
  const early = o.earlyStopping ?? false;
  const nReturn = o.numReturn ?? W;
  const minTokens = o.minTokens ?? 0;
  const stops = (o.stop ?? []).filter((s) => s.length > 0);
  const decode = o.decode;
  // HF keeps max(2, 1 + #eos) · W candidates so that W unfinished ones remain when the top W all end with eos.
  const K = Math.min(2 * W, W * V);

  let logits = await stepper.start(prompt.slice(), W);
  if (logits.length !== V) throw new Error(`stepper.start returned ${logits.length} logits, expected vocabSize ${V}`);
  let running: Beam[] = Array.from({ length: W }, (_, i) => ({ tokens: [], score: i === 0 ? 0 : -Infinity }));
  let finished: Finished[] = [];
  const lp = new Float64Array(V);
  const topScore = new Float64Array(K);
  const topIndex = new Int32Array(K);

  for (let t = 0; ; t++) {
    // 1. top K of running score + log-softmax over all rows × tokens (ties: lower flat index first)
    let n = 0;
    for (let r = 0; r < W; r++) {
      const base = running[r]!.score;
      if (base === -Infinity && n === K) continue; // cannot enter a full list (strictly-greater insertion)
      const off = t === 0 ? 0 : r * V; // before the first step every row is a copy of the prompt
      let m = -Infinity;
      for (let v = 0; v < V; v++) if (logits[off + v]! > m) m = logits[off + v]!;
      let s = 0;
      for (let v = 0; v < V; v++) s += Math.exp(logits[off + v]! - m);
      const lse = m + Math.log(s);
      for (let v = 0; v < V; v++) lp[v] = logits[off + v]! - lse;
      if (o.eotId !== undefined && t < minTokens) lp[o.eotId] = -Infinity;
      for (let v = 0; v < V; v++) {
        let x = base + lp[v]!;
        if (Number.isNaN(x)) x = -Infinity;
        if (n === K && !(x > topScore[K - 1]!)) continue;
        let j = n < K ? n++ : K - 1;
        while (j > 0 && topScore[j - 1]! < x) {
          topScore[j] = topScore[j - 1]!;
          topIndex[j] = topIndex[j - 1]!;
          j--;
        }
        topScore[j] = x;
        topIndex[j] = r * V + v;
      }
    }

    // 2. which candidates end their hypothesis (eot, stop string, max length)
    const len = t + 1;
    const cands: Candidate[] = [];
    for (let j = 0; j < n; j++) {
      const parent = Math.floor(topIndex[j]! / V);
      const token = topIndex[j]! % V;
      const c: Candidate = { parent, token, score: topScore[j]! };
      if (o.eotId !== undefined && token === o.eotId) c.end = 'eot';
      else {
        if (stops.length > 0) {
          const text = decode!([...running[parent]!.tokens, token]);
          let hit = -1;
          for (const s of stops) {
            const k = text.indexOf(s);
            if (k >= 0 && (hit < 0 || k < hit)) hit = k;
          }
          if (hit >= 0) {
            c.end = 'stop';
            c.text = text.slice(0, hit);
          }
        }
        if (!c.end && len >= o.maxTokens) c.end = 'length';
      }
      cands.push(c);
    }

    // 3. finalise the ending candidates among the first W (HF's top_num_beam_mask); keep the best W finished
    const fresh: Finished[] = [];
    for (let j = 0; j < Math.min(W, cands.length); j++) {
      const c = cands[j]!;
      if (!c.end || c.score === -Infinity) continue;
      const tokens = [...running[c.parent]!.tokens, c.token];
      fresh.push({ tokens, logprob: c.score, score: c.score / lengthPenalty(len, alpha, style), finish: c.end, ...(c.text !== undefined ? { text: c.text } : {}) });
    }
    if (fresh.length > 0) {
      // stable: earlier finished hypotheses win ties, as in HF's topk over [finished, new]
      finished = [...finished, ...fresh].sort((a, b) => b.score - a.score).slice(0, W);
    }

    // 4. next running beams: the best W candidates that did not end (HF pads with ended ones at −1e9; here −∞)
    const next: Candidate[] = cands.filter((c) => !c.end);
    for (const c of cands) {
      if (next.length >= W) break;
      if (c.end) next.push({ ...c, score: -Infinity });
    }
    next.length = Math.min(next.length, W);
    const bestRunning = next.length > 0 ? next[0]!.score : -Infinity;

    // 5. stopping (HF: _check_early_stop_heuristic and _beam_search_has_unfinished_sequences)
    if (cands.every((c) => c.end)) break; // no valid continuation (always the case at maxTokens)
    if (!(bestRunning > -Infinity)) break; // nothing left to extend (HF would go on with −1e9 beams)
    if (finished.length === W) {
      if (early === true) break;
      const hypLen = early === 'never' && alpha > 0 ? o.maxTokens : len;
      const bestPossible = bestRunning / lengthPenalty(hypLen, alpha, style);
      if (!(bestPossible > finished[W - 1]!.score)) break;
    }

    const newRunning = next.map((c) => ({ tokens: [...running[c.parent]!.tokens, c.token], score: c.score }));
    logits = await stepper.step(
      next.map((c) => c.parent),
      next.map((c) => c.token),
    );
    if (logits.length !== W * V) throw new Error(`stepper.step returned ${logits.length} logits, expected rows × vocabSize = ${W * V}`);
    running = newRunning;
  }

  return finished
    .filter((h) => h.score > -Infinity)
    .slice(0, nReturn)
    .map((h) => {
      let tokens = h.tokens;
      let text = h.text;
      if (h.finish === 'eot') tokens = tokens.slice(0, -1);
      else if (h.finish === 'stop') tokens = tokens.slice(0, countTokensFor(decode!, tokens, text!));
      if (decode && text === undefined) text = decode(tokens);
      return { tokens, score: h.score, logprob: h.logprob, length: h.tokens.length, finish: h.finish, ...(text !== undefined ? { text } : {}) };
    });
}

/**
 * Reference stepper: keeps every row's full sequence and recomputes logits from scratch each step. `forward` takes
 * sequences (within one call all of the same length) and returns the logits at each one's last position, rows × V.
 */
export class RecomputeStepper implements BeamStepper {
  private rows: number[][] = [];

  constructor(
    private readonly forward: (ids: number[][]) => Promise<Float32Array>,
    readonly vocabSize: number,
  ) {}

  async start(prompt: number[], rows: number): Promise<Float32Array> {
    if (!isInt(rows) || rows < 1) throw new Error(`rows must be a positive integer, got ${String(rows)}`);
    this.rows = Array.from({ length: rows }, () => prompt.slice());
    const out = await this.forward([prompt.slice()]);
    if (out.length !== this.vocabSize) throw new Error(`forward returned ${out.length} logits for 1 sequence, expected ${this.vocabSize}`);
    return out;
  }

  async step(parents: number[], tokens: number[]): Promise<Float32Array> {
    const B = this.rows.length;
    if (B === 0) throw new Error('RecomputeStepper.step before start');
    if (parents.length !== B || tokens.length !== B) throw new Error(`step needs ${B} parents and tokens, got ${parents.length} and ${tokens.length}`);
    for (const p of parents) if (!isInt(p) || p < 0 || p >= B) throw new Error(`parent ${String(p)} is not a row in [0, ${B - 1}]`);
    this.rows = parents.map((p, i) => [...this.rows[p]!, tokens[i]!]);
    const out = await this.forward(this.rows.map((r) => r.slice()));
    if (out.length !== B * this.vocabSize) throw new Error(`forward returned ${out.length} logits for ${B} sequences, expected ${B * this.vocabSize}`);
    return out;
  }

  async release(): Promise<void> {
    this.rows = [];
  }
}
