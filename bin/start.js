#!/usr/bin/env node
// `npm start`: the local deployment on loopback (see lib/local/start.ts).
import { register } from 'tsx/esm/api';

register();
await import('../lib/local/start.ts');
