import type { Command } from 'commander';
import { INVALID_DFS_URL_MESSAGE } from '../../core/dfs-url.ts';
import { ValidationError } from '../../core/errors.ts';
import { parseDfsLocation } from '../locations.ts';
import type { CommandContext } from '../program.ts';

/** `mb dfs://bucket`: creates a bucket. */
export function registerMakeBucketCommand(program: Command, ctx: CommandContext): void {
  program
    .command('mb')
    .description('make a bucket.')
    .argument('<target>', 'dfs://bucket')
    .action(async (target: string, _flags: unknown, command: Command) => {
      const client = ctx.client(command);
      const { bucket, key } = parseDfsLocation(target);
      if (key !== '')
        throw new ValidationError(`${INVALID_DFS_URL_MESSAGE} (mb takes dfs://bucket)`);
      await client.createBucket(bucket, { signal: ctx.signal });
      ctx.out(`make bucket ${bucket} success`);
    });
}
