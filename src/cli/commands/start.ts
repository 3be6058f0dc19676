// `tessera start` (npm start): the main job on the embedded default.
import type { Command } from 'commander';

export function registerStart(program: Command): void {
  program
    .command('start')
    .description('the main job: train a small GPT on bundled Moby-Dick, then print samples')
    .action(async () => {
      const { runStart } = await import('../../lm/start.js');
      await runStart();
    });
}
