// The generic trainer on modules that are not the GPT: a small conv autoencoder and an MLP on synthetic data. Loss
// goes down; a run stopped part-way and resumed equals the uninterrupted one bitwise; the NaN guard stops with the
// last good checkpoint kept; gradient accumulation matches one big batch; half-written or interrupted checkpoint
// swaps recover to the last complete checkpoint; a failed checkpoint write keeps the previous one.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as T from '../../src/engine/index.js';
import { Conv2d, ConvTranspose2d, Linear, Module, Rng } from '../../src/nn/index.js';
import {
  readTrainerState,
  recoverCheckpointDir,
  safetensorsIO,
  train,
  TrainingDivergedError,
  writeCheckpointDir,
  type Batch,
  type BatchSource,
  type CheckpointIO,
  type TrainerOptions,
} from '../../src/train/index.js';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'tessera-trainer-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

// ---- a conv autoencoder on 1×8×8 images of soft blobs ----

class AutoEncoder extends Module {
  enc = new Conv2d(1, 4, 3, { padding: 1 });
  dec = new ConvTranspose2d(4, 1, 4, { stride: 2, padding: 1 });
  forward(x: T.Tensor): T.Tensor {
    const h = T.avgPool2d(T.relu(this.enc.forward(x)), 2); // (N, 4, 4, 4)
    return this.dec.forward(h); // (N, 1, 8, 8)
  }
  loss(x: T.Tensor): T.Tensor {
    const d = T.sub(this.forward(x), x);
    return T.mean(T.mul(d, d));
  }
}

const N = 4;
const IMG = [N, 1, 8, 8];

function blobs(rng: Rng): Float32Array {
  const x = new Float32Array(N * 64);
  for (let n = 0; n < N; n++) {
    const cy = rng.uniform() * 8;
    const cx = rng.uniform() * 8;
    for (let i = 0; i < 8; i++) for (let j = 0; j < 8; j++) x[n * 64 + i * 8 + j] = Math.exp(-((i - cy) ** 2 + (j - cx) ** 2) / 4);
  }
  return x;
}

class BlobSource implements BatchSource {
  rng: Rng;
  constructor(seed: number) {
    this.rng = new Rng(seed);
  }
  next(): Batch {
    return { x: blobs(this.rng) };
  }
  state(): unknown {
    return this.rng.state();
  }
  setState(s: unknown): void {
    this.rng.setState(s as number[]);
  }
}

function aeOptions(out: string, extra: Partial<TrainerOptions<AutoEncoder>> = {}): TrainerOptions<AutoEncoder> {
  return {
    model: new AutoEncoder().initialize(3),
    loss: (m, d) => m.loss(d.get('x')!),
    data: [{ name: 'x', shape: IMG, dtype: 'float32' }],
    batches: new BlobSource(11),
    io: safetensorsIO<AutoEncoder>(),
    out,
    steps: 24,
    lr: 2e-2,
    warmup: 2,
    adamw: { weightDecay: 0.01 },
    clip: 1,
    seed: 5,
    eval: { interval: 6, iters: 2, batches: () => new BlobSource(99) },
    checkpointInterval: 4,
    progress: false,
    unitsPerBatch: N,
    unit: 'img',
    log: () => {},
    ...extra,
  };
}

function weights(m: Module): Map<string, Float32Array> {
  return new Map([...m.nameParameters()].map(([k, p]) => [k, Float32Array.from(p.data)]));
}

function assertSameWeights(a: Map<string, Float32Array>, b: Map<string, Float32Array>, tol = 0): void {
  assert.deepEqual([...a.keys()], [...b.keys()]);
  for (const [k, va] of a) {
    const vb = b.get(k)!;
    for (let i = 0; i < va.length; i++) {
      if (tol === 0) assert.equal(va[i], vb[i], `${k}[${i}]`);
      else assert.ok(Math.abs(va[i]! - vb[i]!) <= tol, `${k}[${i}]: ${va[i]} vs ${vb[i]}`);
    }
  }
}

describe('trainer on a conv autoencoder', () => {
  let full: Awaited<ReturnType<typeof train<AutoEncoder>>>;
  let fullWeights: Map<string, Float32Array>;

  before(async () => {
    full = await train(aeOptions(join(dir, 'ae-full')));
    fullWeights = weights(full.model);
  });

  it('lowers the loss, evaluates, checkpoints and saves the finished model', () => {
    assert.equal(full.steps, 24);
    assert.equal(full.history.length, 24);
    const first = full.history[0]!.train_loss;
    assert.ok(full.train_loss < first * 0.7, `train loss ${first} → ${full.train_loss}`);
    const vals = full.history.filter((h) => h.val_loss !== undefined).map((h) => h.step);
    assert.deepEqual(vals, [6, 12, 18, 24]);
    assert.ok(full.val_loss < full.history[5]!.val_loss!);
    assert.equal(full.units_seen, 24 * N);
    assert.ok(full.units_per_s > 0);
    // warmup then cosine decay to lr/10
    assert.ok(full.history[0]!.lr < full.history[2]!.lr);
    assert.ok(Math.abs(full.history[23]!.lr - 2e-3) < 2e-3 * 0.05);
    const st = readTrainerState(join(dir, 'ae-full', 'checkpoint'));
    assert.equal(st.version, 2);
    assert.equal(st.step, 24);
    assert.equal(st.optimizerT, 24);
    assert.ok(existsSync(join(dir, 'ae-full', 'model.safetensors')));
    // the finished model loads back into a fresh module
    const m = safetensorsIO<AutoEncoder>().load(join(dir, 'ae-full'), new AutoEncoder());
    assertSameWeights(weights(m), fullWeights);
  });

  it('stopped at step 10 and resumed, equals the uninterrupted run bitwise', async () => {
    const out = join(dir, 'ae-split');
    const a = await train(aeOptions(out, { stopAtStep: 10 }));
    assert.equal(a.steps, 10);
    assert.match(a.stopped!, /stopped at step 10 of 24/);
    assert.equal(readTrainerState(join(out, 'checkpoint')).step, 10);
    assert.ok(!existsSync(join(out, 'model.safetensors')), 'a stopped run does not save the finished model');
    // resume with a freshly initialised (differently seeded) model and a fresh source: both come from the checkpoint
    const lines: string[] = [];
    const b = await train(aeOptions(out, { resume: true, model: new AutoEncoder().initialize(77), batches: new BlobSource(0), log: (l) => lines.push(l) }));
    assert.match(lines.join('\n'), /resuming from .* at step 10/);
    assert.equal(b.steps, 24);
    assert.equal(b.history.length, 24);
    for (let i = 0; i < 24; i++) {
      assert.equal(b.history[i]!.train_loss, full.history[i]!.train_loss, `step ${i + 1}`);
      assert.equal(b.history[i]!.val_loss, full.history[i]!.val_loss, `step ${i + 1} val`);
      assert.equal(b.history[i]!.lr, full.history[i]!.lr);
    }
    assertSameWeights(weights(b.model), fullWeights);
  });

  it('recovers from an interrupted swap and ignores a half-written temp checkpoint', async () => {
    const out = join(dir, 'ae-crash');
    await train(aeOptions(out, { stopAtStep: 8 }));
    // a crash between "checkpoint → .checkpoint-old" and ".checkpoint-tmp → checkpoint" while the temp dir was only
    // half written: the last complete checkpoint is the old one
    renameSync(join(out, 'checkpoint'), join(out, '.checkpoint-old'));
    mkdirSync(join(out, '.checkpoint-tmp'));
    writeFileSync(join(out, '.checkpoint-tmp', 'model.safetensors'), 'trunc');
    const b = await train(aeOptions(out, { resume: true, model: new AutoEncoder().initialize(1) }));
    assert.deepEqual(readdirSync(out).sort(), ['checkpoint', 'model.safetensors']);
    assert.deepEqual(
      b.history.map((h) => h.train_loss),
      full.history.map((h) => h.train_loss),
    );
    assertSameWeights(weights(b.model), fullWeights);
  });

  it('a failed checkpoint write (disk full) keeps the previous checkpoint, says so, and that one resumes', async () => {
    const out = join(dir, 'ae-enospc');
    const io = safetensorsIO<AutoEncoder>();
    let failed = false;
    const failing: CheckpointIO<AutoEncoder> = {
      save: (d, m, info) => {
        if (info.step === 8) {
          failed = true;
          writeFileSync(join(d, 'partial.bin'), 'x');
          throw Object.assign(new Error('cannot write model.safetensors: no space left on device (ENOSPC)'), { code: 'ENOSPC' });
        }
        io.save(d, m, info);
      },
      load: io.load,
    };
    await assert.rejects(train(aeOptions(out, { io: failing })), (err: Error) => {
      assert.match(err.message, /^checkpoint at step 8 failed \(cannot write model\.safetensors: no space left on device \(ENOSPC\)\); the previous checkpoint in .*checkpoint is intact$/);
      return true;
    });
    assert.ok(failed);
    assert.equal(readTrainerState(join(out, 'checkpoint')).step, 4);
    assert.ok(!existsSync(join(out, '.checkpoint-tmp')), 'the temp dir is removed to free the space');
    const b = await train(aeOptions(out, { resume: true }));
    assert.deepEqual(
      b.history.map((h) => h.train_loss),
      full.history.map((h) => h.train_loss),
    );
  });

  it('a custom eval function gets the eval program, compiled for its own batch shape', async () => {
    let calls = 0;
    const custom = await train(
      aeOptions(join(dir, 'ae-eval'), {
        steps: 4,
        eval: {
          interval: 2,
          data: [{ name: 'x', shape: [1, 1, 8, 8] }],
          evaluate: async (lossOf) => {
            calls++;
            const imgs = new BlobSource(99).next().x!;
            let s = 0;
            for (let n = 0; n < N; n++) s += await lossOf({ x: imgs.subarray(n * 64, (n + 1) * 64) });
            return s / N;
          },
        },
      }),
    );
    assert.equal(calls, 2);
    // the same run evaluated on the same images as one batch: the mean of per-image losses is the batch loss
    const batched = await train(aeOptions(join(dir, 'ae-eval-ref'), { steps: 4, eval: { interval: 2, iters: 1, batches: () => new BlobSource(99) } }));
    for (const i of [1, 3]) {
      const a = custom.history[i]!.val_loss!;
      const b = batched.history[i]!.val_loss!;
      assert.ok(Number.isFinite(a) && a > 0 && Math.abs(a - b) < 1e-6 * b, `step ${i + 1}: ${a} vs ${b}`);
    }
  });

  it('rejects a resume without a checkpoint and a batch that does not fit the data specs', async () => {
    await assert.rejects(train(aeOptions(join(dir, 'ae-none'), { resume: true })), /cannot resume: .* has no checkpoint/);
    const bad: BatchSource = { next: () => ({ x: new Float32Array(10) }), state: () => null, setState: () => {} };
    await assert.rejects(train(aeOptions(join(dir, 'ae-bad'), { batches: bad })), /batch input 'x' has 10 values, its shape \[4, 1, 8, 8\] needs 256/);
  });
});

// ---- an MLP regression on synthetic data ----

class Mlp extends Module {
  l1 = new Linear(4, 16);
  l2 = new Linear(16, 16);
  l3 = new Linear(16, 2);
  forward(x: T.Tensor): T.Tensor {
    return this.l3.forward(T.relu(this.l2.forward(T.relu(this.l1.forward(x)))));
  }
  loss(x: T.Tensor, y: T.Tensor): T.Tensor {
    const d = T.sub(this.forward(x), y);
    return T.mean(T.mul(d, d));
  }
}

/** Rows x ~ N(0, 1)^4, y = (x0 + 2 x1, x2 x3); `rows` per batch, cut into `parts` micro-batches of rows/parts. */
class RegressionSource implements BatchSource {
  rng = new Rng(21);
  private queue: Batch[] = [];
  constructor(
    readonly rows: number,
    readonly parts = 1,
  ) {}
  next(): Batch {
    if (this.queue.length === 0) {
      const x = new Float32Array(this.rows * 4);
      const y = new Float32Array(this.rows * 2);
      for (let r = 0; r < this.rows; r++) {
        for (let c = 0; c < 4; c++) x[r * 4 + c] = this.rng.normal();
        y[r * 2] = x[r * 4]! + 2 * x[r * 4 + 1]!;
        y[r * 2 + 1] = x[r * 4 + 2]! * x[r * 4 + 3]!;
      }
      const m = this.rows / this.parts;
      for (let p = 0; p < this.parts; p++) this.queue.push({ x: x.slice(p * m * 4, (p + 1) * m * 4), y: y.slice(p * m * 2, (p + 1) * m * 2) });
    }
    return this.queue.shift()!;
  }
  state(): unknown {
    return this.rng.state();
  }
  setState(s: unknown): void {
    this.rng.setState(s as number[]);
    this.queue = [];
  }
}

function mlpOptions(out: string, rows: number, extra: Partial<TrainerOptions<Mlp>> = {}): TrainerOptions<Mlp> {
  return {
    model: new Mlp().initialize(8),
    loss: (m, d) => m.loss(d.get('x')!, d.get('y')!),
    data: [
      { name: 'x', shape: [rows, 4] },
      { name: 'y', shape: [rows, 2] },
    ],
    batches: new RegressionSource(rows),
    io: safetensorsIO<Mlp>(),
    out,
    steps: 6,
    lr: 1e-2,
    seed: 1,
    progress: false,
    saveFinal: false,
    log: () => {},
    ...extra,
  };
}

describe('trainer on an MLP', () => {
  it('gradient accumulation over 2 micro-batches of 8 gives the update of one batch of 16', async () => {
    const big = await train(mlpOptions(join(dir, 'mlp-big'), 16, { clip: 1, adamw: { weightDecay: 0.1 } }));
    const acc = await train(mlpOptions(join(dir, 'mlp-acc'), 8, { clip: 1, adamw: { weightDecay: 0.1 }, gradAccum: 2, batches: new RegressionSource(16, 2) }));
    for (let i = 0; i < 6; i++) assert.ok(Math.abs(big.history[i]!.train_loss - acc.history[i]!.train_loss) < 1e-5, `step ${i + 1}`);
    assertSameWeights(weights(acc.model), weights(big.model), 1e-5);
    assert.equal(acc.units_seen, big.units_seen * 2); // units are per micro-batch (1 each by default)
  });

  it('NaN guard: lr 1e6 stops with a clear message and keeps the last good checkpoint', async () => {
    const out = join(dir, 'mlp-nan');
    let err: TrainingDivergedError | undefined;
    await assert.rejects(train(mlpOptions(out, 16, { lr: 1e6, minLr: 1e6, steps: 50, checkpointInterval: 1 })), (e: Error) => {
      assert.ok(e instanceof TrainingDivergedError);
      err = e;
      return true;
    });
    assert.match(err!.message, /^training diverged at step (\d+) \(loss .*, gradient norm .*\); stopped, the last good checkpoint in .*checkpoint (\(step \d+\) )?is kept/);
    assert.ok(!Number.isFinite(err!.loss) || !Number.isFinite(err!.gradNorm));
    assert.ok(err!.step > 1, `diverged at step ${err!.step}`);
    const st = readTrainerState(join(out, 'checkpoint'));
    assert.equal(st.step, err!.step - 1);
    assert.ok(st.history.every((h) => Number.isFinite(h.train_loss)));
    const m = safetensorsIO<Mlp>().load(join(out, 'checkpoint'), new Mlp());
    assert.ok(m.parameters().every((p) => p.data.every(Number.isFinite)));
  });

  it('maxSeconds stops after the first step with a checkpoint to resume from', async () => {
    const out = join(dir, 'mlp-time');
    const a = await train(mlpOptions(out, 16, { maxSeconds: 0 }));
    assert.equal(a.steps, 1);
    assert.match(a.stopped!, /stopped after 0s at step 1/);
    const b = await train(mlpOptions(out, 16, { resume: true }));
    const ref = await train(mlpOptions(join(dir, 'mlp-time-ref'), 16));
    assert.deepEqual(
      b.history.map((h) => h.train_loss),
      ref.history.map((h) => h.train_loss),
    );
  });
});

// ---- checkpoint directories and trainer state files, without training ----

describe('checkpoint directories', () => {
  const fill = (step: number) => (d: string) => {
    writeFileSync(join(d, 'w.bin'), String(step));
    writeFileSync(join(d, 'trainer_state.json'), JSON.stringify({ version: 2, step }));
  };
  const stepOf = (d: string) => JSON.parse(readFileSync(join(d, 'trainer_state.json'), 'utf8')).step;

  it('swaps complete checkpoints in and recovers every crash point to the newest complete one', () => {
    const out = join(dir, 'ckdirs');
    assert.equal(recoverCheckpointDir(out), undefined);
    writeCheckpointDir(out, fill(1));
    writeCheckpointDir(out, fill(2));
    assert.deepEqual(readdirSync(out), ['checkpoint']);
    assert.equal(stepOf(recoverCheckpointDir(out)!), 2);

    // a half-written temp dir next to the checkpoint: ignored and removed
    mkdirSync(join(out, '.checkpoint-tmp'));
    writeFileSync(join(out, '.checkpoint-tmp', 'w.bin'), 'half');
    assert.equal(stepOf(recoverCheckpointDir(out)!), 2);
    assert.deepEqual(readdirSync(out), ['checkpoint']);

    // only a half-written temp dir: nothing to resume
    const lone = join(dir, 'ckdirs-lone');
    mkdirSync(join(lone, '.checkpoint-tmp'), { recursive: true });
    writeFileSync(join(lone, '.checkpoint-tmp', 'w.bin'), 'half');
    assert.equal(recoverCheckpointDir(lone), undefined);

    // crash after checkpoint → .checkpoint-old, temp complete: the temp dir is the newest
    cpSync(join(out, 'checkpoint'), join(out, '.checkpoint-old'), { recursive: true });
    renameSync(join(out, 'checkpoint'), join(out, '.checkpoint-tmp'));
    writeFileSync(join(out, '.checkpoint-tmp', 'trainer_state.json'), JSON.stringify({ version: 2, step: 3 }));
    assert.equal(stepOf(recoverCheckpointDir(out)!), 3);
    assert.deepEqual(readdirSync(out), ['checkpoint']);

    // crash after checkpoint → .checkpoint-old, temp half-written: back to the old one
    renameSync(join(out, 'checkpoint'), join(out, '.checkpoint-old'));
    mkdirSync(join(out, '.checkpoint-tmp'));
    writeFileSync(join(out, '.checkpoint-tmp', 'trainer_state.json'), '{"version": 2, "st');
    assert.equal(stepOf(recoverCheckpointDir(out)!), 3);
    assert.deepEqual(readdirSync(out), ['checkpoint']);

    // a damaged checkpoint (state file missing) with a complete old one next to it
    cpSync(join(out, 'checkpoint'), join(out, '.checkpoint-old'), { recursive: true });
    rmSync(join(out, 'checkpoint', 'trainer_state.json'));
    assert.equal(stepOf(recoverCheckpointDir(out)!), 3);
    assert.ok(existsSync(join(out, 'checkpoint', 'w.bin')));
  });

  it('a failing writer leaves the previous checkpoint and says so', () => {
    const out = join(dir, 'ckfail');
    assert.throws(
      () =>
        writeCheckpointDir(out, () => {
          throw new Error('disk on fire');
        }),
      /checkpoint failed \(disk on fire\); there was no earlier checkpoint to keep/,
    );
    writeCheckpointDir(out, fill(4));
    assert.throws(
      () =>
        writeCheckpointDir(
          out,
          (d) => {
            writeFileSync(join(d, 'w.bin'), 'partial');
            throw new Error('no space left on device (ENOSPC)');
          },
          { label: 'checkpoint at step 8' },
        ),
      /^CheckpointWriteError: checkpoint at step 8 failed \(no space left on device \(ENOSPC\)\); the previous checkpoint in .*checkpoint is intact$/,
    );
    assert.deepEqual(readdirSync(out), ['checkpoint']);
    assert.equal(stepOf(join(out, 'checkpoint')), 4);
    // a writer that forgets the completion marker is a failure, not a checkpoint
    assert.throws(() => writeCheckpointDir(out, (d) => writeFileSync(join(d, 'w.bin'), 'x')), /did not write trainer_state\.json/);
    assert.equal(stepOf(join(out, 'checkpoint')), 4);
  });

  it('reads version 1 trainer states (the GPT-only trainer) and refuses unknown versions clearly', () => {
    const d = join(dir, 'v1');
    mkdirSync(d, { recursive: true });
    const options = { out: '/x', batch: 4, steps: 24, lr: 3e-3, minLr: 3e-4, warmup: 2, beta1: 0.9, beta2: 0.95, weightDecay: 0.1, clip: 1, gradAccum: 1, evalInterval: 4, evalIters: 2, checkpointInterval: 4, seed: 1337, trainFraction: 0.9 };
    const v1 = { version: 1, step: 8, optimizerT: 8, samplerState: [1, 2, 3, 4], seed: 1337, elapsedSeconds: 2.5, tokensSeen: 512, options, history: [{ step: 1, train_loss: 4, lr: 1e-3, seconds: 0.1 }], corpus: 'c.txt' };
    writeFileSync(join(d, 'trainer_state.json'), JSON.stringify(v1));
    const st = readTrainerState(d);
    assert.equal(st.version, 2);
    assert.equal(st.step, 8);
    assert.deepEqual(st.data, [1, 2, 3, 4]);
    assert.equal(st.unitsSeen, 512);
    assert.deepEqual(st.meta, { corpus: 'c.txt', options });
    assert.equal(st.options.adamw.beta2, 0.95);
    writeFileSync(join(d, 'trainer_state.json'), JSON.stringify({ ...v1, version: 7 }));
    assert.throws(() => readTrainerState(d), /trainer state version 7 is not supported \(this tessera reads versions 1 and 2\)/);
    writeFileSync(join(d, 'trainer_state.json'), '{"version": 2, "st');
    assert.throws(() => readTrainerState(d), /cannot read the trainer state/);
  });
});
