#!/usr/bin/env node
// `npm start`: will run the local cluster (manager + seed peer + peer + function host on the fs
// backend under ./.dfstore/). The cluster lands with the peer daemon and P2P work; until then
// this says so instead of pretending.
console.error(
  [
    'dfstore: the local cluster is not built yet.',
    'When it lands, `npm start` runs a manager, one seed peer and one peer (object API on',
    'http://127.0.0.1:65004) on the embedded fs backend under ./.dfstore/.',
    'Today: `npm test` runs the core and backend suites; see README.md.',
  ].join('\n'),
);
process.exitCode = 1;
