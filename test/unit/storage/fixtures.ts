import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { taskIdV1 } from '../../../lib/core/task-id.ts';
import type { Logger } from '../../../lib/storage/deps.ts';
import { patternStream } from '../../helpers/streams.ts';

export const MiB = 1024 * 1024;

/** A fresh temp directory per call, removed after the test. */
export function useTempDirs(): () => Promise<string> {
  const dirs: string[] = [];
  afterEach(async () => {
    await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
  });
  return async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dfstore-storage-'));
    dirs.push(dir);
    return dir;
  };
}

/** The task ID a peer would derive for `bucket/key` at `digest`. */
export function taskIdFor(bucket: string, key: string): (digest: string) => string {
  return (digest) => taskIdV1(`fs://${bucket}/${key}`, { digest });
}

/** A task ID that is just a valid 64-hex string. */
export function fakeTaskId(n: number): string {
  return createHash('sha256').update(`task-${n}`).digest('hex');
}

export async function md5OfPattern(size: number, seed: number): Promise<string> {
  const hash = createHash('md5');
  for await (const chunk of patternStream(size, seed)) hash.update(chunk as Buffer);
  return `md5:${hash.digest('hex')}`;
}

/** Deterministic bytes for small objects built in memory. */
export function bytesOf(size: number, seed = 7): Buffer {
  const buffer = Buffer.alloc(size);
  let state = seed;
  for (let i = 0; i < size; i++) {
    state = (state * 1103515245 + 12345) >>> 0;
    buffer[i] = state >>> 24;
  }
  return buffer;
}

export function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export function md5Digest(data: Uint8Array): string {
  return `md5:${createHash('md5').update(data).digest('hex')}`;
}

/** Lists a directory, [] when missing. */
export async function ls(path: string): Promise<string[]> {
  return readdir(path).catch(() => []);
}

/** A logger that remembers what it was told. */
export function recordingLogger(): Logger & { lines: Array<{ level: string; msg?: string }> } {
  const lines: Array<{ level: string; msg?: string }> = [];
  const at = (level: string) => (_obj: object, msg?: string) => {
    lines.push({ level, msg });
  };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
