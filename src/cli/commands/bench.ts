// Placeholder registration for the `bench` command family; replaced by the module that implements it.
import type { Command } from 'commander';

export function registerBench(_program: Command): void {}
