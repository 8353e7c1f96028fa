import type { Command } from 'commander';
import packageJson from '../../../package.json' with { type: 'json' };
import type { CommandContext } from '../program.ts';

export function registerVersionCommand(program: Command, ctx: CommandContext): void {
  program
    .command('version')
    .description('show version')
    .action(() => {
      ctx.out(
        [
          `Version:    ${packageJson.version}`,
          `Node:       ${process.version}`,
          `Platform:   ${process.platform}/${process.arch}`,
        ].join('\n'),
      );
    });
}
