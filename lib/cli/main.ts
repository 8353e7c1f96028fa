import { runCli } from './program.ts';

// Composition root of the `dfstore` CLI (bin/dfstore.js loads this file).
const controller = new AbortController();
for (const name of ['SIGINT', 'SIGTERM'] as const) {
  process.once(name, () => controller.abort(new Error(`${name} received`)));
}
process.exitCode = await runCli(
  process.argv,
  { stdout: process.stdout, stderr: process.stderr },
  controller.signal,
);
