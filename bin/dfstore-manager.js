#!/usr/bin/env node
// Runs the TypeScript manager in place (no build step): tsx compiles on load.
import { register } from 'tsx/esm/api';

register();
await import('../lib/manager/main.ts');
