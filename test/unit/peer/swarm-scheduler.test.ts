import { describe, expect, it } from 'vitest';
import { type Assignment, PieceScheduler } from '../../../lib/peer/swarm-scheduler.ts';
import { PieceBitmap } from '../../../lib/storage/piece-bitmap.ts';

function holder(peerId: string, pieces: number[], count = 6) {
  const have = new PieceBitmap(count);
  for (const i of pieces) have.add(i);
  return { node: { peerId, pieces: `http://${peerId}:65002` }, have };
}

function scheduler(options: Partial<ConstructorParameters<typeof PieceScheduler>[0]> = {}) {
  return new PieceScheduler({ pieceCount: 6, concurrency: 8, perSource: 3, ...options });
}

const all = () => true;
const picked = (assignments: Assignment[]) =>
  assignments.map(({ index, source }) => [index, source.node.peerId]);

describe('PieceScheduler', () => {
  it('picks the rarest pieces first', () => {
    const s = scheduler({ concurrency: 2 });
    s.setHolders([holder('a', [0, 1, 2, 3]), holder('b', [0, 1, 2]), holder('c', [0, 1, 5])]);

    const first = s.assign(all);

    // 3 and 5 have one holder each; 2 has two; 0 and 1 three.
    expect(first.map((a) => a.index).sort()).toEqual([3, 5]);
    expect(picked(s.assign(all))).toEqual([]);
  });

  it('breaks ties at random', () => {
    const seen = new Set<number>();
    for (const r of [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.99]) {
      const s = scheduler({ concurrency: 1, random: () => r });
      s.setHolders([holder('a', [0, 1, 2, 3, 4, 5])]);
      seen.add(s.assign(all)[0]?.index ?? -1);
    }
    expect(seen.size).toBeGreaterThan(2);
    expect(seen.has(-1)).toBe(false);
  });

  it('keeps to the overall and per-source limits, least busy holder first', () => {
    const s = scheduler({ concurrency: 5, perSource: 2 });
    s.setHolders([holder('a', [0, 1, 2, 3, 4, 5]), holder('b', [0, 1, 2, 3, 4, 5])]);

    const assignments = s.assign(all);

    // 4 = two sources × perSource 2, under the overall 5.
    expect(assignments).toHaveLength(4);
    expect(s.sources().map((source) => source.inFlight)).toEqual([2, 2]);
    s.landed(assignments[0] as Assignment);
    expect(s.assign(all)).toHaveLength(1);
  });

  it('only picks pieces the caller wants and some live holder has', () => {
    const s = scheduler();
    s.setHolders([holder('a', [0, 1])]);

    expect(s.assign((i) => i !== 0).map((a) => a.index)).toEqual([1]);
    expect(s.held(1)).toBe(true);
    expect(s.held(4)).toBe(false);
  });

  it('asks another holder for a piece that failed, and drops a source after two failures', () => {
    const s = scheduler({ concurrency: 1 });
    s.setHolders([holder('a', [0]), holder('b', [0, 1])]);
    const first = s.assign(all);
    // Piece 0 has two holders, piece 1 one: 1 is rarer.
    expect(picked(first)).toEqual([[1, 'b']]);
    expect(s.failed(first[0] as Assignment)).toBe(false);

    // Piece 1 again: b is its only holder, so b is asked again, and dropped on failing again.
    const second = s.assign(all);
    expect(picked(second)).toEqual([[1, 'b']]);
    expect(s.failed(second[0] as Assignment)).toBe(true);

    expect(s.held(1)).toBe(false);
    expect(picked(s.assign(all))).toEqual([[0, 'a']]);
  });

  it('prefers a holder that has not failed the piece', () => {
    const s = scheduler({ concurrency: 1 });
    s.setHolders([holder('a', [2]), holder('b', [2])]);
    const first = s.assign(all)[0] as Assignment;
    s.failed(first);

    const retry = s.assign(all)[0] as Assignment;

    expect(retry.index).toBe(2);
    expect(retry.source.node.peerId).not.toBe(first.source.node.peerId);
  });

  it('keeps failures and in-flight counts across tracker answers; unlisted holders are skipped', () => {
    const s = scheduler({ concurrency: 4, perSource: 1 });
    s.setHolders([holder('a', [0, 1, 2]), holder('b', [0, 1, 2])]);
    const [one, two] = s.assign(all) as [Assignment, Assignment];
    s.failed(one);
    s.failed(two);

    s.setHolders([holder('a', [0, 1, 2, 3])]);

    const a = s.sources().find((source) => source.node.peerId === 'a');
    expect(a).toMatchObject({ failures: 1, inFlight: 0, listed: true });
    expect(picked(s.assign(all))).toEqual([[expect.any(Number), 'a']]);
    expect(s.held(3)).toBe(true);
  });
});
