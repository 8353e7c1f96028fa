import type { Command } from 'commander';
import { INVALID_DFS_URL_MESSAGE, isDfsUrl } from '../../core/dfs-url.ts';
import { ValidationError } from '../../core/errors.ts';
import { describeObjectError, parseDfsLocation } from '../locations.ts';
import type { CommandContext } from '../program.ts';

/** `stat dfs://bucket/key`: the object's metadata (HEAD), as text or `--json`. */
export function registerStatCommand(program: Command, ctx: CommandContext): void {
  program
    .command('stat')
    .description('show the metadata of an object.')
    .argument('<target>', 'dfs://bucket/key')
    .option('--json', 'print JSON')
    .action(async (target: string, flags: { json?: boolean }, command: Command) => {
      const client = ctx.client(command);
      if (!isDfsUrl(target)) throw new ValidationError(INVALID_DFS_URL_MESSAGE);
      const { bucket, key } = parseDfsLocation(target);
      if (key === '') throw new ValidationError(INVALID_DFS_URL_MESSAGE);
      const metadata = await client.headObject(bucket, key, { signal: ctx.signal }).catch((e) => {
        throw describeObjectError(e, bucket, key);
      });
      if (flags.json) {
        ctx.out(JSON.stringify({ bucket, ...metadata }, null, 2));
        return;
      }
      const rows: [string, string | undefined][] = [
        ['Bucket', bucket],
        ['Key', metadata.key],
        ['Size', String(metadata.contentLength)],
        ['ETag', metadata.etag],
        ['Digest', metadata.digest],
        ['Content-Type', metadata.contentType],
        ['Content-Encoding', metadata.contentEncoding],
        ['Content-Disposition', metadata.contentDisposition],
        ['Content-Language', metadata.contentLanguage],
        ['Last-Modified', metadata.lastModified.toISOString()],
        ['Storage-Class', metadata.storageClass],
      ];
      ctx.out(
        rows
          .filter((row): row is [string, string] => row[1] !== undefined && row[1] !== '')
          .map(([name, value]) => `${`${name}:`.padEnd(21)}${value}`)
          .join('\n'),
      );
    });
}
