import { Command } from 'commander';
import packageJson from '../../package.json' with { type: 'json' };

/** The `dfstore` command line. Commands land here as the peer daemon grows (see README). */
export function buildProgram(): Command {
  const program = new Command('dfstore')
    .description('object storage client of dfstore (Dragonfly-compatible)')
    .showHelpAfterError();
  program
    .command('version')
    .description('show version')
    .action(() => {
      process.stdout.write(
        `${[
          `Version:    ${packageJson.version}`,
          `Node:       ${process.version}`,
          `Platform:   ${process.platform}/${process.arch}`,
        ].join('\n')}\n`,
      );
    });
  return program;
}

await buildProgram().parseAsync(process.argv);
