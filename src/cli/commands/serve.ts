// `tessera serve`: an OpenAI-compatible completions server (/v1/models, /v1/completions with logprobs, echo, n, stop,
// stream) over a local model directory; runs until SIGINT/SIGTERM, then closes gracefully.

import type { Command } from 'commander';

const int = (name: string, min: number) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} expects an integer ≥ ${min}, got '${v}'`);
  return n;
};

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('serve a model over an OpenAI-compatible HTTP API (/v1/models, /v1/completions; /tokenize, /detokenize, /tokenizer_info for lm-eval remote tokenizers)')
    .requiredOption('--model <dir>', 'model directory')
    .option('--port <n>', 'port (0 = any free port)', int('--port', 0), 8000)
    .option('--host <addr>', 'address to listen on', '127.0.0.1')
    .option('--tokenizer <spec>', 'override the tokenizer (gpt2 | bytes | bytes+eot | PATH)')
    .option('--name <id>', 'model id reported by /v1/models (default: the directory name)')
    .option('--max-batch <n>', 'rows decoded together', int('--max-batch', 1), 8)
    .option('--api-key <key>', 'require Authorization: Bearer KEY (default: $TESSERA_API_KEY, or none)')
    .option('--quiet', 'no per-request log lines')
    .action(async (o) => {
      const { LocalLanguageModel } = await import('../../lm/language-model.js');
      const { startServer } = await import('../../server/completions-server.js');
      const lm = LocalLanguageModel.load(o.model, { tokenizer: o.tokenizer, name: o.name, maxBatch: o.maxBatch });
      const srv = await startServer({
        model: lm,
        port: o.port,
        host: o.host,
        apiKey: o.apiKey ?? process.env.TESSERA_API_KEY,
        log: o.quiet ? undefined : (line) => process.stderr.write(`${new Date().toISOString()} ${line}\n`),
      });
      process.stdout.write(`tessera serve: model '${lm.name}' (context ${lm.contextLength}) at ${srv.url}/v1\n`);
      await new Promise<void>((resolve) => {
        const stop = (sig: string) => {
          process.stderr.write(`tessera serve: ${sig}, shutting down\n`);
          resolve();
        };
        process.once('SIGINT', () => stop('SIGINT'));
        process.once('SIGTERM', () => stop('SIGTERM'));
      });
      await srv.close();
      await lm.close();
    });
}
