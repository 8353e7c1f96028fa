import type { Command } from 'commander';
import type { ObjectMetadata } from '../../backends/object-backend.ts';
import { describeObjectError, parseDfsLocation } from '../locations.ts';
import type { CommandContext } from '../program.ts';

interface ListFlags {
  readonly recursive?: boolean;
  readonly json?: boolean;
}

/**
 * `ls dfs://bucket[/prefix]`: one level by default (delimiter `/`, sub-prefixes shown as `PRE`),
 * every key under the prefix with `--recursive`. Pages are followed with the marker until the
 * listing ends. `--json` prints one document `{ commonPrefixes, objects }`.
 */
export function registerListCommand(program: Command, ctx: CommandContext): void {
  program
    .command('ls')
    .description('list objects and common prefixes under dfs://bucket[/prefix].')
    .argument('<target>', 'dfs://bucket or dfs://bucket/prefix')
    .option('-r, --recursive', 'list every key under the prefix, not one level')
    .option('--json', 'print JSON')
    .action(async (target: string, flags: ListFlags, command: Command) => {
      const client = ctx.client(command);
      const { bucket, key: prefix } = parseDfsLocation(target);
      const pages = client.listAllObjects(bucket, {
        prefix,
        delimiter: flags.recursive ? undefined : '/',
        signal: ctx.signal,
      });
      const objects: ObjectMetadata[] = [];
      const commonPrefixes: string[] = [];
      try {
        for await (const page of pages) {
          if (flags.json) {
            objects.push(...page.objects);
            commonPrefixes.push(...page.commonPrefixes);
            continue;
          }
          const lines = [
            ...page.commonPrefixes.map((p) => `${' '.repeat(19)} ${'PRE'.padStart(12)} ${p}`),
            ...page.objects.map(formatObjectLine),
          ];
          if (lines.length > 0) ctx.out(lines.join('\n'));
        }
      } catch (error) {
        throw describeObjectError(error, bucket, prefix);
      }
      if (flags.json) ctx.out(JSON.stringify({ commonPrefixes, objects }, null, 2));
    });
}

/** `2024-05-01 12:00:00       1234 key` (UTC). */
function formatObjectLine(object: ObjectMetadata): string {
  const time = object.lastModified.toISOString().replace('T', ' ').slice(0, 19);
  return `${time} ${String(object.contentLength).padStart(12)} ${object.key}`;
}
