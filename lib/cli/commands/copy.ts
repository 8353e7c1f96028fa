import { basename } from 'node:path';
import type { Command } from 'commander';
import type { DfstoreClient } from '../../client/dfstore-client.ts';
import { isDfsUrl } from '../../core/dfs-url.ts';
import { ValidationError } from '../../core/errors.ts';
import { type GlobalOptions, parsePositive, validateWriteOptions } from '../context.ts';
import {
  baseName,
  describeObjectError,
  dfsUrl,
  isDirectoryKey,
  parseDfsLocation,
  uploadKey,
} from '../locations.ts';
import type { CommandContext } from '../program.ts';
import { createProgress } from '../progress.ts';
import { downloadTarget, downloadToFile, uploadFromFile } from '../transfer.ts';
import { downloadTree, uploadTree } from './copy-recursive.ts';

const DESCRIPTION =
  'copies a local file or dragonfly object to another location locally or in dragonfly object storage.';

interface CopyFlags {
  readonly recursive?: boolean;
  readonly parallel: number;
}

export function registerCopyCommand(program: Command, ctx: CommandContext): void {
  program
    .command('cp')
    .description(DESCRIPTION)
    .argument('<source>', 'local path or dfs://bucket/key')
    .argument('<target>', 'local path or dfs://bucket/key (a trailing / means "into")')
    .option('-r, --recursive', 'copy a directory tree or every object under a prefix')
    .option('--parallel <n>', 'objects in flight with -r', parsePositive(64), 4)
    .addHelpText(
      'after',
      [
        '',
        'Exactly one side is dfs://bucket/key, or both are, in one bucket (server-side copy).',
        'Downloads go to a temp file beside the target and are renamed into place on success.',
      ].join('\n'),
    )
    .action(async (source: string, target: string, flags: CopyFlags, command: Command) => {
      const client = ctx.client(command);
      const run: CopyRun = {
        ctx,
        client,
        options: ctx.options(command),
        flags,
        started: Date.now(),
      };
      if (!isDfsUrl(source) && !isDfsUrl(target)) {
        throw new ValidationError('source and target url cannot both be local file path');
      }
      if (isDfsUrl(source) && isDfsUrl(target)) return copyWithinBucket(run, source, target);
      if (isDfsUrl(source)) return download(run, source, target);
      return upload(run, source, target);
    });
}

interface CopyRun {
  readonly ctx: CommandContext;
  readonly client: DfstoreClient;
  readonly options: GlobalOptions;
  readonly flags: CopyFlags;
  readonly started: number;
}

const cost = (run: CopyRun) => `cost: ${Date.now() - run.started} ms`;

/**
 * Upstream refuses dfs:// on both sides; we run a server-side copy when both name one bucket, and
 * keep upstream's message (with the reason) when they do not.
 */
async function copyWithinBucket(run: CopyRun, source: string, target: string): Promise<void> {
  const { ctx, client, flags } = run;
  const from = parseDfsLocation(source);
  const to = parseDfsLocation(target);
  if (from.bucket !== to.bucket) {
    throw new ValidationError(
      `source and target url cannot both be dfs:// protocol: a server-side copy stays within one bucket (source bucket ${from.bucket}, target bucket ${to.bucket})`,
    );
  }
  if (flags.recursive || isDirectoryKey(from.key)) {
    throw new ValidationError('a server-side copy takes one object, not a prefix');
  }
  const key = uploadKey(to.key, baseName(from.key));
  await client.copyObject(from.bucket, from.key, key, { signal: ctx.signal }).catch((error) => {
    throw describeObjectError(error, from.bucket, from.key);
  });
  ctx.out(
    `copy object storage success, ${dfsUrl(from.bucket, from.key)} to ${dfsUrl(to.bucket, key)} ${cost(run)}`,
  );
}

async function download(run: CopyRun, source: string, target: string): Promise<void> {
  const { ctx, client, options, flags } = run;
  const { bucket, key } = parseDfsLocation(source);
  if (flags.recursive) {
    const { objects, bytes } = await downloadTree(client, ctx, {
      bucket,
      prefix: key,
      dir: target,
      filter: options.filter,
      parallel: flags.parallel,
    });
    ctx.out(
      `download object storage success, objects: ${objects}, length: ${bytes} bytes ${cost(run)}`,
    );
    return;
  }
  if (isDirectoryKey(key)) throw new ValidationError(`${source} names a prefix (use cp -r)`);
  const path = await downloadTarget(target, key);
  const progress = createProgress(ctx.io, 'Downloading');
  const length = await downloadToFile(client, {
    bucket,
    key,
    path,
    filter: options.filter,
    signal: ctx.signal,
    progress,
  }).finally(() => progress.stop());
  ctx.out(`download object storage success, length: ${length} bytes ${cost(run)}`);
}

async function upload(run: CopyRun, source: string, target: string): Promise<void> {
  const { ctx, client, options, flags } = run;
  const write = validateWriteOptions(options);
  const { bucket, key } = parseDfsLocation(target);
  if (flags.recursive) {
    const { objects, bytes } = await uploadTree(client, ctx, {
      bucket,
      prefix: key,
      dir: source,
      ...write,
      filter: options.filter,
      parallel: flags.parallel,
    });
    ctx.out(
      `upload object storage success, objects: ${objects}, length: ${bytes} bytes ${cost(run)}`,
    );
    return;
  }
  const progress = createProgress(ctx.io, 'Uploading');
  const length = await uploadFromFile(client, {
    bucket,
    key: uploadKey(key, basename(source)),
    path: source,
    ...write,
    filter: options.filter,
    signal: ctx.signal,
    progress,
  }).finally(() => progress.stop());
  ctx.out(`upload object storage success, length: ${length} bytes ${cost(run)}`);
}
