import { type Command, Command as CommanderCommand, CommanderError } from 'commander';
import { createDfstoreClient, type DfstoreClient } from '../client/dfstore-client.ts';
import { registerCopyCommand } from './commands/copy.ts';
import { registerListCommand } from './commands/list.ts';
import { registerMakeBucketCommand } from './commands/make-bucket.ts';
import { registerRemoveCommand } from './commands/remove.ts';
import { registerStatCommand } from './commands/stat.ts';
import { registerVersionCommand } from './commands/version.ts';
import { addGlobalOptions, type CliIo, type GlobalOptions } from './context.ts';

/** What every command gets: output, the interrupt signal, the global options and one client. */
export interface CommandContext {
  readonly io: CliIo;
  /** Aborted on SIGINT/SIGTERM: transfers stop and clean up their temp files. */
  readonly signal: AbortSignal;
  /** Writes one line (a trailing newline added) to stdout. */
  out(text: string): void;
  options(command: Command): GlobalOptions;
  /** The client for `--endpoint`, created on first use; throws upstream's endpoint messages. */
  client(command: Command): DfstoreClient;
}

const DESCRIPTION = [
  'object storage client of dragonfly.',
  '',
  'dfstore is a storage client for dragonfly. It can rely on different types of object storage, such as S3 or OSS, to provide stable object storage capabilities.',
  '',
  'dfstore uses the entire P2P network as a cache when storing objects. Rely on S3 or OSS as the backend to ensure storage reliability.',
].join('\n');

/** Builds the `dfstore` program; commands throw, runCli turns errors into `Error: …` + exit 1. */
export function buildProgram(ctx: CommandContext): Command {
  const program = new CommanderCommand('dfstore')
    .description(DESCRIPTION)
    .configureOutput({
      writeOut: (text) => ctx.io.stdout.write(text),
      writeErr: (text) => ctx.io.stderr.write(text),
      outputError: (text, write) => write(text.replace(/^error: /, 'Error: ')),
    })
    .exitOverride()
    .showHelpAfterError('(add --help for additional information)');
  addGlobalOptions(program);
  registerCopyCommand(program, ctx);
  registerRemoveCommand(program, ctx);
  registerListCommand(program, ctx);
  registerStatCommand(program, ctx);
  registerMakeBucketCommand(program, ctx);
  registerVersionCommand(program, ctx);
  return program;
}

/** Runs the CLI and resolves with its exit code (0, 1 on any error, 130 when interrupted). */
export async function runCli(argv: string[], io: CliIo, signal: AbortSignal): Promise<number> {
  let client: DfstoreClient | undefined;
  const ctx: CommandContext = {
    io,
    signal,
    out: (text) => io.stdout.write(`${text}\n`),
    options: (command) => command.optsWithGlobals<GlobalOptions>(),
    client: (command) => {
      const { endpoint, caFile, iam } = ctx.options(command);
      client ??= createDfstoreClient({ endpoint, caFile, sigv4: iam === true });
      return client;
    },
  };
  let failed = true;
  try {
    await buildProgram(ctx).parseAsync(argv);
    failed = false;
    return 0;
  } catch (error) {
    // Commander has already printed its own errors (and help/version output).
    if (error instanceof CommanderError) return error.exitCode;
    if (signal.aborted) {
      io.stderr.write('Error: interrupted\n');
      return 130;
    }
    io.stderr.write(`Error: ${describeFailure(error, client)}\n`);
    return 1;
  } finally {
    // After a failure, requests may still be in flight: drop them rather than wait.
    await (failed ? client?.destroy() : client?.close());
  }
}

/**
 * Connection-level failures name the endpoint (credentials masked): "connect ECONNREFUSED" alone
 * does not say which endpoint was tried. TLS verification failures point at --ca-file.
 */
function describeFailure(error: unknown, client: DfstoreClient | undefined): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  if (typeof code !== 'string' || !client) return error.message;
  if (/CERT|UNABLE_TO_|SELF_SIGNED|DEPTH_ZERO/.test(code)) {
    return `request to ${client.endpoint} failed: ${error.message} (trust a private CA with --ca-file)`;
  }
  const network =
    /^E(CONN|NOTFOUND|TIMEDOUT|HOSTUNREACH|NETUNREACH|PIPE|AI_)/.test(code) ||
    code.startsWith('UND_ERR_');
  return network ? `request to ${client.endpoint} failed: ${error.message}` : error.message;
}
