import { describe, expect, it } from 'vitest';
import { type Assignment, designee, PieceScheduler } from '../../../lib/peer/swarm-scheduler.ts';
import { PieceBitmap } from '../../../lib/storage/piece-bitmap.ts';

// The seed peers' uplink carries the first copy of every piece into the swarm (bench swarm:
// with every peer asking the seed for each new piece, it served 2.7× the object and, at 20
// Mbit/s, timed out and dropped the seed). These pin how downloads ration it.

const COUNT = 8;
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

function holder(peerId: string, pieces: number[]) {
  const have = new PieceBitmap(COUNT);
  for (const i of pieces) have.add(i);
  return { node: { peerId, pieces: `http://${peerId}:65002` }, have };
}

function rationed(clock: { now: number }) {
  return new PieceScheduler({
    pieceCount: COUNT,
    concurrency: 8,
    perSource: 3,
    seedPeers: new Set(['seed']),
    self: 'p1',
    now: () => clock.now,
  });
}

const all = () => true;
/** Pieces 0..6 by who takes their first copy (p1 or p2); piece 7 is p2's in every test. */
const share = (peerId: string) => range(7).filter((i) => designee(['p1', 'p2'], i) === peerId);
const from = (assignments: Assignment[], peerId: string) =>
  assignments.filter((a) => a.source.node.peerId === peerId).map((a) => a.index);

describe('PieceScheduler with seed peers', () => {
  it('takes its share of seed-only pieces one at a time, and leaves the rest to the others', () => {
    const clock = { now: 0 };
    const s = rationed(clock);
    // p2 is another downloader (it lacks pieces): p1 and p2 share the seed-only pieces 0..6.
    s.setHolders([holder('seed', range(COUNT)), holder('p2', [7])]);

    const first = s.assign(all);

    // One first copy from the seed, of p1's share; piece 7 from p2, never from the seed.
    const fromSeed = from(first, 'seed');
    expect(fromSeed).toHaveLength(1);
    expect(share('p1')).toContain(fromSeed[0]);
    expect(from(first, 'p2')).toEqual([7]);
    expect(first).toHaveLength(2);

    // The next first copy only once the first one landed.
    clock.now = 400;
    expect(s.assign(all)).toEqual([]);
    for (const assignment of first) s.landed(assignment);
    const second = s.assign((i) => i !== fromSeed[0]);
    expect(from(second, 'seed')).toHaveLength(1);
    expect(share('p1')).toContain(from(second, 'seed')[0]);
  });

  it('fetches another downloader’s piece from that peer once it has it, from the seed only after the grace', () => {
    const clock = { now: 0 };
    const s = rationed(clock);
    const theirs = share('p2');
    expect(theirs.length).toBeGreaterThanOrEqual(2); // the hash gives p2 some of 0..6
    const [taken = -1, ...rest] = theirs;
    const wantTheirs = (i: number) => theirs.includes(i);
    s.setHolders([holder('seed', range(COUNT)), holder('p2', [7])]);
    // A first copy of our own takes 400 ms.
    const own = s.assign((i) => i === share('p1')[0]);
    expect(own).toHaveLength(1);
    clock.now = 400;
    for (const assignment of own) s.landed(assignment);

    clock.now = 1_000;
    expect(s.assign(wantTheirs)).toEqual([]);

    // p2 got one of its pieces and said so: we take it from p2.
    s.setHolders([holder('seed', range(COUNT)), holder('p2', [taken, 7])]);
    const fromPeer = s.assign(wantTheirs);
    expect(fromPeer.map((a) => [a.index, a.source.node.peerId])).toEqual([[taken, 'p2']]);

    // The rest stayed seed-only (seen so since 0 ms). Their grace: 1000 ms + 400 ms × (2 + the
    // pieces queued for p2); then one comes from the seed.
    const grace = 1_000 + (2 + rest.length) * 400;
    clock.now = grace - 1;
    expect(s.assign(wantTheirs)).toEqual([]);
    clock.now = grace;
    const late = s.assign(wantTheirs);
    expect(late).toHaveLength(1);
    expect(late[0]?.source.node.peerId).toBe('seed');
    expect(rest).toContain(late[0]?.index);
  });

  it('spreads first copies over the downloaders and moves few when one joins', () => {
    const peers = range(8).map((i) => `peer-${i}`);
    const counts = new Map<string, number>();
    let moved = 0;
    for (let i = 0; i < 800; i++) {
      const chosen = designee(peers, i) ?? '';
      counts.set(chosen, (counts.get(chosen) ?? 0) + 1);
      if (designee(peers.slice(0, 7), i) !== chosen) moved++;
    }
    expect(Math.min(...counts.values())).toBeGreaterThan(60);
    expect(Math.max(...counts.values())).toBeLessThan(140);
    // Only the pieces the newcomer wins change hands (~1/8).
    expect(moved).toBe(counts.get('peer-7'));
  });

  it('lets seed peers serve any piece in the end game', () => {
    const s = rationed({ now: 0 });
    // The seed has everything; p2 (still downloading) has 0..5; we lack 0..5 only.
    s.setHolders([holder('seed', range(COUNT)), holder('p2', range(6))]);

    const assignments = s.assign((i) => i < 6);

    expect(assignments).toHaveLength(6);
    expect(from(assignments, 'seed')).toHaveLength(3);
    expect(from(assignments, 'p2')).toHaveLength(3);
  });

  it('keeps peer-held pieces off the seed while some piece is still seed-only', () => {
    const s = rationed({ now: 0 });
    s.setHolders([holder('seed', range(COUNT)), holder('p2', range(6))]);

    const p2Takes = range(COUNT).find((i) => i >= 6 && designee(['p1', 'p2'], i) === 'p2');
    if (p2Takes === undefined) throw new Error('the hash gives both 6 and 7 to p1');
    const assignments = s.assign((i) => i < 6 || i === p2Takes);

    // That piece is seed-only and p2's to take (within its grace), so the seed is not free
    // yet: pieces 0..5 come from p2 alone, perSource at a time.
    expect(from(assignments, 'seed')).toEqual([]);
    expect(from(assignments, 'p2')).toHaveLength(3);
  });

  it('before other downloaders are known, takes one piece at a time from a seed still filling', () => {
    const s = rationed({ now: 0 });
    s.setHolders([holder('seed', [0, 1, 2])]);
    expect(s.assign(all)).toHaveLength(1);

    // A seed that holds the whole task serves a lone downloader at full width.
    const lone = rationed({ now: 0 });
    lone.setHolders([holder('seed', range(COUNT))]);
    expect(lone.assign(all)).toHaveLength(3);
  });

  it('treats every holder alike without seed peers', () => {
    const s = new PieceScheduler({ pieceCount: COUNT, concurrency: 8, perSource: 3 });
    s.setHolders([holder('seed', range(COUNT)), holder('p2', [7])]);
    expect(s.assign(all)).toHaveLength(4);
  });
});
