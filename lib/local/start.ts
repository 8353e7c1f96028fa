import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createFsBackend } from '../backends/fs-backend.ts';
import { createFsPresignApp } from '../backends/fs-presign-app.ts';
import { DEFAULT_ENDPOINT } from '../client/endpoint.ts';
import { startListener } from '../peer/http-listener.ts';
import {
  type ClusterPlan,
  daemonEnvOf,
  functionHostArgs,
  managerFunctionEnvOf,
  objectsFunctionEnvOf,
  type PlannedNode,
  parseStartArgs,
  planCluster,
  portsNeeded,
  USAGE,
  UsageError,
} from './cluster-plan.ts';
import { freePorts } from './free-ports.ts';
import { createSupervisor } from './supervisor.ts';

/**
 * `npm start [-- --seed-peers N --peers M]`: the local cluster on 127.0.0.1 with the embedded fs
 * backend under ./.dfstore/ (DFSTORE_HOME moves it): the manager first (its Lambda handler,
 * functions/manager.ts, behind the local function host), then the seed peers, then the peers
 * (ports and names: cluster-plan.ts), then the object API function (functions/objects.ts) behind
 * the function host on 65100, with the fs backend's presigned URLs served from this process on
 * 65101 (S3's part for large GETs and upload sessions). Each process logs to .dfstore/logs/
 * <name>.log. A process that dies stops the rest (exit 1, naming its log); Ctrl-C or SIGTERM
 * stops them all (exit 0 when every process stopped cleanly). `DFSTORE_PORTS=ephemeral` uses
 * free ports instead of the fixed ones: tests, or a second cluster next to a running one.
 */
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = (name: string) => join(root, 'bin', name);

let options: ReturnType<typeof parseStartArgs>;
try {
  options = parseStartArgs(process.argv.slice(2));
} catch (error) {
  if (!(error instanceof UsageError)) throw error;
  process.stderr.write(`${error.message}\n${USAGE}\n`);
  process.exit(2);
}
if (options.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}

const home = resolve(process.env.DFSTORE_HOME ?? '.dfstore');
const ephemeral = process.env.DFSTORE_PORTS === 'ephemeral';
const plan = planCluster(
  home,
  options,
  ephemeral ? await freePorts(portsNeeded(options)) : undefined,
);
mkdirSync(plan.logsDir, { recursive: true });

const supervisor = createSupervisor({
  onUnexpectedExit: (name, status, logFile) => {
    process.stderr.write(`${name} exited (${status}); see ${logFile}\nstopping the others…\n`);
    void supervisor.stopAll().then(() => process.exit(1));
  },
});

const stop = () => {
  if (supervisor.stopping) return;
  process.stdout.write('\nstopping…\n');
  void supervisor.stopAll().then((clean) => {
    if (!clean) process.stderr.write(`a process did not stop cleanly; see ${plan.logsDir}\n`);
    process.exit(clean ? 0 : 1);
  });
};
process.on('SIGTERM', stop);
process.on('SIGINT', () => {
  if (!supervisor.stopping) return stop();
  // A second Ctrl-C: do not wait for graceful shutdowns.
  supervisor.killAll();
  process.exit(1);
});

const logLevel = { DFSTORE_LOG_LEVEL: process.env.DFSTORE_LOG_LEVEL ?? 'info' };
const startDaemon = (node: PlannedNode) =>
  supervisor.start({
    name: node.name,
    script: bin('dfstore-daemon.js'),
    env: { ...logLevel, ...daemonEnvOf(plan, node) },
    logFile: node.logFile,
  });

try {
  const manager = await supervisor.start({
    name: plan.manager.name,
    script: bin('dfstore-function-host.js'),
    args: functionHostArgs(plan.manager, root),
    env: { ...logLevel, ...managerFunctionEnvOf(plan) },
    logFile: plan.manager.logFile,
  });
  const seedPeers = await Promise.all(plan.seedPeers.map(startDaemon));
  const peers = await Promise.all(plan.peers.map(startDaemon));
  const secrets = {
    presignSecret: randomBytes(32).toString('hex'),
    apiToken: randomBytes(24).toString('base64url'),
  };
  const presign = await startListener({
    name: 'presign',
    app: createFsPresignApp(createFsBackend({ name: 'fs', root: plan.backendDir }), {
      secret: secrets.presignSecret,
    }),
    tcpListen: { listen: '127.0.0.1', port: { start: plan.presignPort, end: plan.presignPort } },
  });
  const objects = await supervisor.start({
    name: plan.objectsFunction.name,
    script: bin('dfstore-function-host.js'),
    args: functionHostArgs(plan.objectsFunction, root),
    env: { ...logLevel, ...objectsFunctionEnvOf(plan, secrets) },
    logFile: plan.objectsFunction.logFile,
  });
  const functionUrl = new URL(String(objects.url));
  process.stdout.write(
    banner(plan, String(manager.url), [...seedPeers, ...peers], {
      url: `http://dfstore:${secrets.apiToken}@${functionUrl.host}`,
      presign: presign.url,
    }),
  );
} catch (error) {
  // A signal during the start stops everything on its own; exits are expected then.
  if (!supervisor.stopping) {
    process.stderr.write(`${(error as Error).message}\nstopping the others…\n`);
    await supervisor.stopAll();
    process.exit(1);
  }
}

function banner(
  cluster: ClusterPlan,
  manager: string,
  ready: Record<string, unknown>[],
  objects: { url: string; presign: string },
): string {
  const nodes = [...cluster.seedPeers, ...cluster.peers];
  const width = Math.max(...nodes.map((node) => node.name.length), 'manager'.length) + 2;
  const pad = (name: string) => `  ${name.padEnd(width)}`;
  const firstApi = String(ready[cluster.seedPeers.length]?.api);
  const endpointHint =
    firstApi === DEFAULT_ENDPOINT ? [] : [`  export DFSTORE_ENDPOINT=${firstApi}`];
  return [
    'dfstore is running (Ctrl-C to stop)',
    `${pad('manager')}${manager}`,
    ...nodes.map(
      (node, i) =>
        `${pad(node.name)}object API ${ready[i]?.api}   piece server ${ready[i]?.pieces}`,
    ),
    `${pad('objects')}${objects.url}   (the object API function; presigned URLs ${objects.presign})`,
    `${pad('backend')}fs under ${cluster.backendDir}`,
    `${pad('logs')}${cluster.logsDir}`,
    '',
    'Piece servers also serve /metrics and /healthy. try:',
    ...endpointHint,
    '  npx dfstore mb dfs://my-bucket',
    '  npx dfstore cp ./README.md dfs://my-bucket/readme.md',
    '  npx dfstore cp dfs://my-bucket/readme.md /tmp/readme.md',
    '',
  ].join('\n');
}
