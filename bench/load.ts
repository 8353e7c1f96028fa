// `npm run bench -- load [--duration 60] [--connections 200] [--seed-peers 1] [--peers 2]
// [--size 16384]`: a local cluster under mixed PUT/GET/HEAD/DELETE load. Prints errors,
// throughput and latency, then per daemon the open fds and the heap after a full GC before and
// after the run; writes bench/results/load.json. Goals: 0 errors, fds back to the baseline,
// heap growth under 20 %.
import { parseArgs } from 'node:util';
import { formatLoadRows, runLoad } from './lib/load-run.ts';
import { printTable, writeResults } from './lib/report.ts';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '60' },
    connections: { type: 'string', default: '200' },
    'seed-peers': { type: 'string', default: '1' },
    peers: { type: 'string', default: '2' },
    size: { type: 'string', default: '16384' },
  },
});
const result = await runLoad({
  seedPeers: Number(values['seed-peers']),
  peers: Number(values.peers),
  connections: Number(values.connections),
  durationS: Number(values.duration),
  objectSize: Number(values.size),
  log: (line) => console.error(line),
});
const { summary, nodes } = formatLoadRows(
  result,
  Number(values.connections),
  Number(values.duration),
);
printTable(summary);
console.log('');
printTable(nodes);
for (const sample of result.errorSamples) console.log(`error: ${sample}`);
writeResults('load', [...summary, ...nodes], { byMethod: result.byMethod });
const ok =
  result.errors === 0 && nodes.every((n) => n['fds ok'] === 'yes' && n['heap ok'] === 'yes');
process.exitCode = ok ? 0 : 1;
