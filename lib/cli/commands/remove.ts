import type { Command } from 'commander';
import { INVALID_DFS_URL_MESSAGE, isDfsUrl } from '../../core/dfs-url.ts';
import { ValidationError } from '../../core/errors.ts';
import { parseDfsLocation } from '../locations.ts';
import type { CommandContext } from '../program.ts';

/** `rm dfs://bucket/key`: upstream's command and messages, bucket and key the right way round. */
export function registerRemoveCommand(program: Command, ctx: CommandContext): void {
  program
    .command('rm')
    .description('remove object from P2P storage system.')
    .argument('<target>', 'dfs://bucket/key')
    .action(async (target: string, _flags: unknown, command: Command) => {
      const client = ctx.client(command);
      if (!isDfsUrl(target)) throw new ValidationError(INVALID_DFS_URL_MESSAGE);
      const { bucket, key } = parseDfsLocation(target);
      if (key === '') throw new ValidationError(INVALID_DFS_URL_MESSAGE);
      try {
        await client.deleteObject(bucket, key, { signal: ctx.signal });
      } catch (error) {
        throw new Error(
          `failed to remove ${key} in bucket ${bucket}: ${(error as Error).message}`,
          {
            cause: error,
          },
        );
      }
      ctx.out(`remove ${key} in bucket ${bucket}`);
    });
}
