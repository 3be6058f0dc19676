// `tessera lm …`: info (presets and parameter counts), train, generate, score.

import type { Command } from 'commander';
import { Option } from 'commander';

const int = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} expects a non-negative integer, got '${v}'`);
  return n;
};
const num = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`${name} expects a number, got '${v}'`);
  return n;
};

export function registerLm(program: Command): void {
  const lm = program.command('lm').description('GPT language models: info, train, generate, score');

  lm.command('info')
    .description('model size of a preset or configuration (GPT-3 Table 2.1 presets: gpt3-small … gpt3-175b)')
    .option('--preset <name>', 'preset name')
    .option('--layers <n>', 'layers', int('--layers'))
    .option('--heads <n>', 'heads', int('--heads'))
    .option('--embd <n>', 'embedding width', int('--embd'))
    .option('--block <n>', 'context length', int('--block'))
    .option('--vocab <n>', 'vocabulary size', int('--vocab'))
    .option('--json', 'JSON output')
    .action(async (o) => {
      const { resolveConfig, countParams, PRESETS } = await import('../../lm/config.js');
      const cfg = resolveConfig(o.preset, { nLayer: o.layers, nHead: o.heads, nEmbd: o.embd, blockSize: o.block, vocabSize: o.vocab });
      const params = countParams(cfg);
      const paper = o.preset ? PRESETS[o.preset]?.paper : undefined;
      const r = {
        preset: o.preset ?? null,
        params,
        n_layer: cfg.nLayer,
        d_model: cfg.nEmbd,
        n_heads: cfg.nHead,
        d_head: cfg.nEmbd / cfg.nHead,
        n_ctx: cfg.blockSize,
        vocab: cfg.vocabSize,
        attention: cfg.attention,
        paper_params: paper?.params ?? null,
        relative_error: paper ? (params - paper.params) / paper.params : null,
      };
      if (o.json) process.stdout.write(`${JSON.stringify(r)}\n`);
      else {
        const fmt = (n: number) => (n >= 1e9 ? `${(n / 1e9).toFixed(2)}B` : `${(n / 1e6).toFixed(1)}M`);
        process.stdout.write(
          `${o.preset ?? 'custom'}: ${fmt(params)} parameters (${params.toLocaleString()})` +
            `${paper ? `; paper: ${fmt(paper.params)} (${((r.relative_error ?? 0) * 100).toFixed(2)}%)` : ''}\n` +
            `  n_layer ${r.n_layer}, d_model ${r.d_model}, n_heads ${r.n_heads}, d_head ${r.d_head}, n_ctx ${r.n_ctx}, vocab ${r.vocab}, attention ${r.attention}\n`,
        );
      }
    });

  lm.command('train')
    .description('train a GPT on a corpus (resumable; checkpoints in --out)')
    .option('--corpus <spec>', 'moby-dick | sotu | spam-assassin | a text file | a folder | file.jsonl:field')
    .option('--tokenizer <spec>', 'gpt2 | char | bytes | PATH', 'gpt2')
    .option('--out <dir>', 'output directory')
    .option('--resume <dir>', 'continue the run in DIR exactly where its last checkpoint left off')
    .option('--preset <name>', 'model preset (see lm info)')
    .option('--layers <n>', 'layers', int('--layers'))
    .option('--heads <n>', 'attention heads', int('--heads'))
    .option('--embd <n>', 'embedding width', int('--embd'))
    .option('--block <n>', 'context length', int('--block'))
    .option('--vocab-size <n>', 'model vocabulary (≥ tokenizer vocabulary; e.g. 50304 for GPT-2)', int('--vocab-size'))
    .option('--dropout <p>', 'dropout', num('--dropout'), 0)
    .option('--bias', 'biases in Linear and LayerNorm (GPT-2); off by default as in nanoGPT', false)
    .addOption(new Option('--attention <kind>', 'dense, or GPT-3 alternating dense/banded').choices(['dense', 'sparse']).default('dense'))
    .option('--band <n>', 'band width of the banded layers', int('--band'))
    .option('--batch <n>', 'micro-batch size', int('--batch'), 12)
    .option('--grad-accum <n>', 'micro-batches per step', int('--grad-accum'), 1)
    .option('--steps <n>', 'optimizer steps', int('--steps'), 2000)
    .option('--lr <x>', 'peak learning rate', num('--lr'), 1e-3)
    .option('--min-lr <x>', 'final learning rate (cosine floor)', num('--min-lr'))
    .option('--warmup <n>', 'linear warmup steps', int('--warmup'), 100)
    .option('--beta1 <x>', 'AdamW beta1', num('--beta1'), 0.9)
    .option('--beta2 <x>', 'AdamW beta2', num('--beta2'), 0.95)
    .option('--weight-decay <x>', 'AdamW weight decay (matrices only)', num('--weight-decay'), 0.1)
    .option('--clip <x>', 'global gradient-norm clip (0 = off)', num('--clip'), 1.0)
    .option('--eval-interval <n>', 'validate every N steps', int('--eval-interval'), 250)
    .option('--eval-iters <n>', 'validation batches per evaluation (nanoGPT: 200)', int('--eval-iters'), 200)
    .option('--checkpoint-interval <n>', 'checkpoint every N steps (default: eval interval)', int('--checkpoint-interval'))
    .option('--max-seconds <n>', 'stop (with a checkpoint) after N seconds', num('--max-seconds'))
    .option('--train-fraction <x>', 'share of tokens (by position) for training', num('--train-fraction'), 0.9)
    .option('--seed <n>', 'random seed', int('--seed'), 1337)
    .option('--json', 'print a JSON summary as the last line')
    .option('--no-progress', 'no progress bar')
    .action(async (o) => {
      const { runTrainCommand } = await import('../../lm/train-command.js');
      await runTrainCommand(o);
    });

  lm.command('generate')
    .description('generate continuations of a prompt (KV cache, streaming)')
    .argument('[prompt]', 'prompt text', '')
    .requiredOption('--model <dir>', 'model directory')
    .option('--n <k>', 'samples', int('--n'), 1)
    .option('--max-tokens <n>', 'tokens to generate', int('--max-tokens'), 200)
    .option('--temperature <t>', 'sampling temperature (0 = greedy)', num('--temperature'), 1)
    .option('--temperature-schedule <s>', 'START:END:OVER, e.g. 10:1:20')
    .option('--top-k <k>', 'top-k', int('--top-k'))
    .option('--top-p <p>', 'nucleus sampling', num('--top-p'))
    .option('--greedy', 'greedy decoding')
    .option('--stop <text>', 'stop sequence (repeat the flag for several)', (v: string, prev: string[] = []) => [...prev, v])
    .option('--seed <n>', 'random seed', int('--seed'), 0)
    .option('--repetition-penalty <p>', 'penalise tokens already in the context (1 = off)', num('--repetition-penalty'))
    .option('--num-beams <w>', 'beam search with this width (1 = greedy)', int('--num-beams'))
    .option('--length-penalty <a>', 'beam search length penalty α', num('--length-penalty'), 1)
    .addOption(new Option('--length-penalty-style <style>', 'gnmt: ((5+|y|)/6)^α (GPT-3), hf: |y|^α (Hugging Face)').choices(['gnmt', 'hf']).default('hf'))
    .option('--num-return <k>', 'beam search: hypotheses to print (default all W)', int('--num-return'))
    .option('--tokenizer <spec>', 'override the tokenizer')
    .option('--json', 'JSON output')
    .action(async (prompt: string, o) => {
      const { runGenerateCommand } = await import('../../lm/generate-command.js');
      await runGenerateCommand(prompt, o);
    });

  lm.command('score')
    .description('per-token log-probabilities of a text')
    .requiredOption('--model <dir>', 'model directory')
    .option('--text <t>', 'text to score')
    .option('--file <f>', 'file to score')
    .option('--tokenizer <spec>', 'override the tokenizer')
    .option('--json', 'JSON output')
    .action(async (o) => {
      const { runScoreCommand } = await import('../../lm/generate-command.js');
      await runScoreCommand(o);
    });
}
