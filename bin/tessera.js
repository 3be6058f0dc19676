#!/usr/bin/env node
// tessera CLI launcher: registers tsx so the TypeScript sources run directly (no build step), then hands over to src/cli.
import { register } from 'tsx/esm/api';
register();
await import('../src/cli/main.ts');
