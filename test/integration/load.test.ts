import { describe, expect, it } from 'vitest';
import { FD_SLACK, formatLoadRows, MAX_HEAP_GROWTH, runLoad } from '../../bench/lib/load-run.ts';

// The short version of `npm run bench -- load`: a manager, 1 seed peer and 2 peers (fs backend)
// under 200 connections of PUT → GET → HEAD → DELETE loops for 8 s. No errors; afterwards each
// daemon's open fds are back to the baseline (idle keep-alive connections between daemons
// expire after 65 s, so this waits up to 75 s) and its heap after a full GC grew < 20 %.
describe('load on a local cluster', () => {
  it('serves 200 connections for 8 s without errors or leaks', { timeout: 240_000 }, async () => {
    const result = await runLoad({
      seedPeers: 1,
      peers: 2,
      connections: 200,
      durationS: 8,
      objectSize: 16 * 1024,
    });
    const { summary, nodes } = formatLoadRows(result, 200, 8);
    console.log(JSON.stringify({ summary, nodes }, null, 1));
    expect(result.errorSamples).toEqual([]);
    expect(result.errors).toBe(0);
    expect(result.requests).toBeGreaterThan(200);
    for (const node of result.nodes) {
      expect(node.after.fds, node.node).toBeLessThanOrEqual(node.before.fds + FD_SLACK);
      const growth = (node.after.heapBytes - node.before.heapBytes) / node.before.heapBytes;
      expect(growth, node.node).toBeLessThan(MAX_HEAP_GROWTH);
    }
  });
});
