// Worker-thread entry: build one shard from the build spool and report back.
import { parentPort, workerData } from 'node:worker_threads';
import { buildShard, readSpool, type ShardSpec, type SpoolRange } from './shard-build.js';

interface Job {
  spec: ShardSpec;
  range: SpoolRange;
}

const job = workerData as Job;
try {
  const { tokens, docLens, ids } = readSpool(job.range, job.spec.width);
  const result = buildShard(job.spec, tokens, docLens, ids, (stage) => parentPort!.postMessage({ type: 'stage', stage }));
  parentPort!.postMessage({ type: 'done', result });
} catch (err) {
  parentPort!.postMessage({ type: 'error', message: err instanceof Error ? err.message : String(err), stack: err instanceof Error ? err.stack : undefined });
}
