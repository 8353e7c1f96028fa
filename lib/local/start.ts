import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/**
 * `npm start`: the local deployment on loopback with the embedded fs backend under ./.dfstore/.
 * Today it runs one peer daemon (object API on 127.0.0.1:65004); the manager and seed peers join
 * it with the P2P work. Each process logs to .dfstore/logs/<name>.log; Ctrl-C stops them all.
 */
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const stateDir = resolve(process.env.DFSTORE_HOME ?? '.dfstore');
const logsDir = join(stateDir, 'logs');
mkdirSync(logsDir, { recursive: true });

interface Started {
  readonly name: string;
  readonly child: ChildProcess;
  readonly ready: Record<string, unknown>;
}

function startProcess(name: string, env: Record<string, string>): Promise<Started> {
  const child = spawn(process.execPath, [join(root, 'bin', 'dfstore-daemon.js')], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log = createWriteStream(join(logsDir, `${name}.log`), { flags: 'a' });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  return new Promise((resolvePromise, reject) => {
    const lines = createInterface({ input: child.stderr as NodeJS.ReadableStream });
    lines.on('line', (line) => {
      if (!line.includes('"ready"')) return;
      try {
        resolvePromise({ name, child, ready: JSON.parse(line) as Record<string, unknown> });
      } catch {
        // not the JSON ready line
      }
    });
    child.once('exit', (code) =>
      reject(new Error(`${name} exited with ${code} before it was ready; see ${log.path}`)),
    );
  });
}

const started: Started[] = [];
let stopping = false;
async function stopAll(): Promise<void> {
  stopping = true;
  await Promise.all(
    started.map(
      ({ child }) =>
        new Promise<void>((done) => {
          if (child.exitCode !== null) return done();
          child.once('exit', () => done());
          child.kill('SIGTERM');
        }),
    ),
  );
}

process.on('SIGINT', () => {
  process.stdout.write('\nstopping…\n');
  void stopAll().then(() => process.exit(0));
});
process.on('SIGTERM', () => void stopAll().then(() => process.exit(0)));

try {
  const peer = await startProcess('peer', {
    DFSTORE_DATA_DIR: join(stateDir, 'peer'),
    DFSTORE_LOG_LEVEL: process.env.DFSTORE_LOG_LEVEL ?? 'info',
  });
  started.push(peer);
  peer.child.once('exit', (code) => {
    if (stopping) return;
    process.stderr.write(`peer exited (${code}); see ${join(logsDir, 'peer.log')}\n`);
    void stopAll().then(() => process.exit(1));
  });
  const { api, pieces, backend } = peer.ready as Record<string, string>;
  process.stdout.write(
    [
      'dfstore is running (Ctrl-C to stop)',
      `  object API   ${api}`,
      `  piece server ${pieces}   (/metrics, /healthy)`,
      `  backend      ${backend} under ${join(stateDir, 'backend')}`,
      `  logs         ${logsDir}`,
      '',
      'try:',
      '  npx dfstore mb dfs://my-bucket',
      '  npx dfstore cp ./README.md dfs://my-bucket/readme.md',
      '  npx dfstore cp dfs://my-bucket/readme.md /tmp/readme.md',
      '',
    ].join('\n'),
  );
} catch (error) {
  process.stderr.write(`${(error as Error).message}\n`);
  await stopAll();
  process.exit(1);
}
