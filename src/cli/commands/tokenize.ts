// Placeholder registration for the `tokenize` command family; replaced by the module that implements it.
import type { Command } from 'commander';

export function registerTokenize(_program: Command): void {}
