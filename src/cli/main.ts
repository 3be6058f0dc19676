// tessera command-line entry: one commander program, each subcommand family registered from its own module.
import { Command } from 'commander';
import { registerTokenize } from './commands/tokenize.js';
import { registerCorpus } from './commands/corpus.js';
import { registerBench } from './commands/bench.js';
import { registerStart } from './commands/start.js';
import { registerLm } from './commands/lm.js';
import { registerServe } from './commands/serve.js';
import { registerEval } from './commands/eval.js';
import { registerAudit } from './commands/audit.js';
import { registerImage } from './commands/image.js';

const program = new Command();
program
  .name('tessera')
  .description('GPT-3-style language models, training-data extraction audits and DALL·E-style text-to-image on ONNX Runtime')
  .version('0.1.0');

registerTokenize(program);
registerCorpus(program);
registerBench(program);
registerStart(program);
registerLm(program);
registerServe(program);
registerEval(program);
registerAudit(program);
registerImage(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  const msg = err instanceof Error ? err.message : String(err);
  process.stderr.write(`tessera: ${msg}\n`);
  if (process.env.TESSERA_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
  process.exitCode = 1;
}
