#!/usr/bin/env node
// Serves a Lambda handler module over HTTP as a function URL would (lib/local/function-host-main.ts).
import { register } from 'tsx/esm/api';

register();
await import('../lib/local/function-host-main.ts');
