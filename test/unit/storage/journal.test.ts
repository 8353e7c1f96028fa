import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConflictError } from '../../../lib/core/errors.ts';
import type { WriteMode } from '../../../lib/core/write-mode.ts';
import { backoffCeiling } from '../../../lib/storage/backoff.ts';
import {
  type JournalHandler,
  openWriteBackJournal,
  type WriteBackJournalOptions,
} from '../../../lib/storage/journal.ts';
import type { JournalEntry, JournalEntryInput } from '../../../lib/storage/journal-files.ts';
import { openPieceStore } from '../../../lib/storage/piece-store.ts';
import { bytesOf, fakeTaskId, taskIdFor, useTempDirs } from './fixtures.ts';

const tempDir = useTempDirs();
afterEach(() => {
  vi.useRealTimers();
});

function input(n: number, key = `key-${n}`): JournalEntryInput {
  return {
    taskId: fakeTaskId(n),
    bucket: 'bucket',
    key,
    digest: `md5:${String(n).padStart(32, '0')}`,
    contentLength: n,
    contentType: 'text/plain',
    mode: 0,
    maxReplicas: 3,
  };
}

/** Timers that fire only when the test says so; records every delay asked for. */
function manualTimers() {
  const pending = new Map<number, () => void>();
  const delays: number[] = [];
  let next = 1;
  return {
    delays,
    get count() {
      return pending.size;
    },
    setTimeout(callback: () => void, ms: number) {
      delays.push(ms);
      pending.set(next, callback);
      return next++;
    },
    clearTimeout(handle: unknown) {
      pending.delete(handle as number);
    },
    fireAll() {
      const callbacks = [...pending.values()];
      pending.clear();
      for (const callback of callbacks) callback();
    },
  };
}

function manualClock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

/** A handler that records calls and runs `behaviour` (default: succeed). */
function recorder(
  behaviour: (entry: JournalEntry, call: number) => Promise<void> = async () => {},
) {
  const calls: string[] = [];
  const handler: JournalHandler = async (entry) => {
    calls.push(entry.key);
    await behaviour(entry, calls.length);
  };
  return { calls, handler };
}

function deferred() {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

async function journalFiles(dataDir: string): Promise<string[]> {
  return (await readdir(join(dataDir, 'journal'))).filter((name) => name.endsWith('.json'));
}

async function open(dataDir: string, options: Partial<WriteBackJournalOptions> = {}) {
  return openWriteBackJournal({ dataDir, handler: async () => {}, ...options });
}

describe('write-back journal', () => {
  it('makes appends durable and resumes them after a restart', async () => {
    const dataDir = await tempDir();
    const first = await open(dataDir, { autoStart: false });
    const a = await first.append(input(1));
    const b = await first.append(input(2));
    expect(await journalFiles(dataDir)).toHaveLength(2);
    await first.close();
    await expect(first.append(input(3))).rejects.toBeInstanceOf(ConflictError);

    const { calls, handler } = recorder();
    const second = await open(dataDir, { handler, autoStart: false });
    expect(second.pending()).toEqual([a, b]);
    second.start();
    await second.drain();

    expect(calls).toEqual(['key-1', 'key-2']);
    expect(await journalFiles(dataDir)).toEqual([]);
    expect(second.metrics()).toMatchObject({ pending: 0, retired: 2, failures: 0 });
    const c = await second.append(input(4));
    expect(c.seq).toBeGreaterThan(b.seq);
    await second.drain();
    await second.close();
  });

  it('retries failures with exponential backoff and full jitter', async () => {
    const timers = manualTimers();
    const clock = manualClock();
    const randoms = [0.999, 0.999, 0.999, 0.999, 0.999, 0.5, 0.001];
    const { calls, handler } = recorder(async (_entry, call) => {
      if (call <= 7) throw new Error(`backend down (${call})`);
    });
    const backoff = { baseMs: 100, capMs: 1_000 };
    const journal = await open(await tempDir(), {
      handler,
      timers,
      clock,
      backoff,
      random: () => randoms.shift() ?? 0,
    });

    await journal.append(input(1));
    for (let attempt = 1; attempt <= 7; attempt++) {
      await vi.waitFor(() => expect(timers.count).toBe(1), { interval: 2 });
      expect(calls).toHaveLength(attempt);
      clock.advance(timers.delays.at(-1) ?? 0);
      timers.fireAll();
    }
    await journal.drain();

    expect(timers.delays).toEqual([99, 199, 399, 799, 999, 500, 1]);
    timers.delays.forEach((delay, i) => {
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThan(backoffCeiling(i + 1, backoff));
    });
    expect(journal.metrics()).toMatchObject({ failures: 7, retired: 1, pending: 0 });
    await journal.close();
  });

  it('waits out the backoff under vitest fake timers', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const { calls, handler } = recorder(async (_entry, call) => {
      if (call === 1) throw new Error('once');
    });
    const journal = await open(await tempDir(), {
      handler,
      backoff: { baseMs: 1_000, capMs: 60_000 },
      random: () => 0.5,
    });
    await journal.append(input(1));
    await until(() => vi.getTimerCount() === 1);

    await vi.advanceTimersByTimeAsync(499);
    expect(calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    await until(() => journal.metrics().retired === 1);

    expect(calls).toHaveLength(2);
    await journal.close();
  });

  it('runs one entry per key at a time, in order, and skips superseded ones', async () => {
    const gate = deferred();
    const { calls, handler } = recorder(async (entry) => {
      if (entry.contentLength === 1) await gate.promise;
    });
    const journal = await open(await tempDir(), { handler, concurrency: 4 });

    await journal.append(input(1, 'k'));
    await journal.append(input(2, 'k'));
    await journal.append(input(3, 'k'));
    await journal.append(input(4, 'other'));
    await vi.waitFor(() => expect(calls).toEqual(['k', 'other']));
    await vi.waitFor(() => expect(journal.metrics()).toMatchObject({ pending: 3, inFlight: 1 }));
    gate.resolve();
    await journal.drain();

    expect(calls).toEqual(['k', 'other', 'k']);
    expect(journal.metrics()).toMatchObject({ retired: 3, superseded: 1 });
    await journal.close();
  });

  it('retires entries the isSuperseded hook rejects without running them', async () => {
    const { calls, handler } = recorder();
    const journal = await open(await tempDir(), {
      handler,
      isSuperseded: (entry) => entry.taskId === fakeTaskId(1),
    });
    await journal.append(input(1));
    await journal.append(input(2));
    await journal.drain();

    expect(calls).toEqual(['key-2']);
    expect(journal.metrics()).toMatchObject({ superseded: 1, retired: 1 });
    await journal.close();
  });

  it('cancelKey drops queued entries and aborts a running one', async () => {
    const dataDir = await tempDir();
    const started = deferred();
    const handler: JournalHandler = (entry, { signal }) => {
      if (entry.key !== 'k') return Promise.resolve();
      started.resolve();
      return new Promise((_, reject) =>
        signal.addEventListener('abort', () => reject(signal.reason)),
      );
    };
    const journal = await open(dataDir, { handler });
    await journal.append(input(1, 'k'));
    await started.promise;
    await journal.append(input(2, 'k'));

    expect(await journal.cancelKey('bucket', 'k')).toBe(2);
    expect(await journal.cancelKey('bucket', 'k')).toBe(0);
    expect(journal.metrics()).toMatchObject({ pending: 0, cancelled: 2, failures: 0 });
    expect(await journalFiles(dataDir)).toEqual([]);
    await journal.close();
  });

  it('flushKey runs a backed-off entry now and resolves once it is retired', async () => {
    const timers = manualTimers();
    const { calls, handler } = recorder(async (_entry, call) => {
      if (call === 1) throw new Error('transient');
    });
    const journal = await open(await tempDir(), { handler, timers });
    await journal.flushKey('bucket', 'nothing-pending');
    await journal.append(input(1, 'k'));
    await vi.waitFor(() => expect(timers.count).toBe(1));

    await journal.flushKey('bucket', 'k');

    expect(calls).toEqual(['k', 'k']);
    expect(timers.count).toBe(0);
    expect(journal.metrics().pending).toBe(0);
    await journal.close();
  });

  it('flushKey rejects when the entry is dead-lettered or the caller gives up', async () => {
    const dataDir = await tempDir();
    const timers = manualTimers();
    const journal = await open(dataDir, {
      handler: async () => {
        throw new Error('permanent');
      },
      timers,
      maxAttempts: 2,
    });
    await journal.append(input(1, 'k'));
    const controller = new AbortController();
    const abandoned = journal.flushKey('bucket', 'k', { signal: controller.signal });
    controller.abort(new Error('lambda timeout'));
    await expect(abandoned).rejects.toThrow('lambda timeout');

    await expect(journal.flushKey('bucket', 'k')).rejects.toThrow(/gave up/);
    expect(journal.metrics()).toMatchObject({ pending: 0, deadLettered: 1, failures: 2 });
    expect(await readdir(join(dataDir, 'journal', 'dead'))).toHaveLength(1);
    await journal.close();
  });

  it('close waits for running handlers and leaves unstarted entries for the next start', async () => {
    const dataDir = await tempDir();
    const gate = deferred();
    const { calls, handler } = recorder(() => gate.promise);
    const journal = await open(dataDir, { handler, concurrency: 1 });
    await journal.append(input(1));
    await journal.append(input(2));
    await vi.waitFor(() => expect(calls).toEqual(['key-1']));

    const closing = journal.close();
    let closed = false;
    void closing.then(() => (closed = true));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(closed).toBe(false);
    gate.resolve();
    await closing;

    expect(calls).toEqual(['key-1']);
    expect(await journalFiles(dataDir)).toHaveLength(1);
    const reopened = await open(dataDir, { handler });
    await reopened.drain();
    expect(calls).toEqual(['key-1', 'key-2']);
    await reopened.close();
  });

  it('keeps each pending entry pinned in the piece store until it is retired', async () => {
    const dataDir = await tempDir();
    const store = await openPieceStore({ dataDir });
    const writer = await store.beginImport();
    await writer.write([bytesOf(100)]);
    const { meta } = await writer.commit(taskIdFor('bucket', 'k'));
    const pin = (taskId: string) => store.pin(taskId);
    const entry = { ...input(1, 'k'), taskId: meta.taskId, digest: meta.digest ?? '' };

    const first = await open(dataDir, { pin, autoStart: false });
    await first.append(entry);
    expect(store.pinCount(meta.taskId)).toBe(1);
    await first.close();
    expect(store.pinCount(meta.taskId)).toBe(0);

    const gate = deferred();
    const second = await open(dataDir, { pin, handler: () => gate.promise });
    expect(store.pinCount(meta.taskId)).toBe(1);
    expect(await store.remove(meta.taskId)).toBe('deferred');
    gate.resolve();
    await second.drain();

    await vi.waitFor(() => expect(store.stat(meta.taskId)).toBeUndefined());
    await second.close();
    await store.close();
  });

  it('reports pending count and the age of the oldest entry', async () => {
    const clock = manualClock();
    const journal = await open(await tempDir(), { clock, autoStart: false });
    expect(journal.metrics()).toMatchObject({ pending: 0, oldestPendingAgeMs: 0 });
    await journal.append(input(1));
    clock.advance(1_500);
    await journal.append(input(2));
    clock.advance(500);

    expect(journal.metrics()).toMatchObject({ pending: 2, oldestPendingAgeMs: 2_000 });
    await expect(journal.append({ ...input(3), mode: 7 as WriteMode })).rejects.toMatchObject({
      statusCode: 422,
    });
    await journal.close();
  });
});

/** Polls with setImmediate (never faked) so real file I/O can finish under fake timers. */
async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error('condition never became true');
    await new Promise((resolve) => setImmediate(resolve));
  }
}
