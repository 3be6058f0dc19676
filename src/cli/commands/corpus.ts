// Placeholder registration for the `corpus` command family; replaced by the module that implements it.
import type { Command } from 'commander';

export function registerCorpus(_program: Command): void {}
