#!/usr/bin/env node
// Entry point for `icboot`: loads the TypeScript sources through tsx, so the
// package runs from a checkout without a build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('./main.ts');
await main(process.argv);
