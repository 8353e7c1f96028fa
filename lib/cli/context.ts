import { type Command, InvalidArgumentError, Option } from 'commander';
import { DEFAULT_ENDPOINT } from '../client/endpoint.ts';
import { ValidationError } from '../core/errors.ts';
import { WriteMode } from '../core/write-mode.ts';

/** Where the CLI writes; injected so that tests and the launcher can wire their own. */
export interface CliIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream & { readonly isTTY?: boolean };
}

/** The global flags, as upstream: `-e` is persistent there, the rest are `cp` flags. */
export interface GlobalOptions {
  readonly endpoint: string;
  readonly caFile?: string;
  /** Sign requests with AWS SigV4 (a function URL with AWS_IAM auth). */
  readonly iam?: boolean;
  readonly filter?: string;
  readonly mode: number;
  readonly maxReplicas: number;
}

/** Upstream's default `--max-replicas` (client/config DefaultObjectMaxReplicas). */
export const DEFAULT_MAX_REPLICAS = 3;

export function addGlobalOptions(program: Command): Command {
  return program
    .addOption(
      new Option('-e, --endpoint <endpoint>', 'endpoint of object storage service')
        .env('DFSTORE_ENDPOINT')
        .default(DEFAULT_ENDPOINT),
    )
    .addOption(
      new Option('--ca-file <path>', 'PEM file of an extra CA to trust for an https endpoint').env(
        'DFSTORE_CA_FILE',
      ),
    )
    .addOption(
      new Option(
        '--iam',
        'sign requests with AWS SigV4 from the default credential chain (a function URL with AWS_IAM auth)',
      ).env('DFSTORE_IAM'),
    )
    .addOption(
      new Option(
        '--filter <filter>',
        'filter is used to generate a unique task id by filtering unnecessary query params in the URL, it is separated by & character',
      ),
    )
    .addOption(
      new Option(
        '-m, --mode <mode>',
        'mode is the mode in which the backend is written, when the value is 0, it represents AsyncWriteBack, and when the value is 1, it represents WriteBack',
      )
        .argParser(parseInteger)
        .default(WriteMode.AsyncWriteBack),
    )
    .addOption(
      new Option(
        '--max-replicas <n>',
        'maxReplicas is the maximum number of replicas of an object cache in seed peers',
      )
        .argParser(parseInteger)
        .default(DEFAULT_MAX_REPLICAS),
    );
}

/**
 * Upload flags, checked before anything is sent with the Go client's messages. Mode 2
 * (Ephemeral) is for replication between peers, so the CLI refuses it like upstream.
 */
export function validateWriteOptions(options: GlobalOptions): {
  mode: WriteMode;
  maxReplicas: number;
} {
  const { mode, maxReplicas } = options;
  if (mode !== WriteMode.AsyncWriteBack && mode !== WriteMode.WriteBack) {
    throw new ValidationError('invalid Mode');
  }
  if (maxReplicas < 0 || maxReplicas > 100) throw new ValidationError('invalid MaxReplicas');
  return { mode, maxReplicas };
}

export function parseInteger(value: string): number {
  if (!/^[-+]?\d+$/.test(value.trim())) throw new InvalidArgumentError('not an integer');
  return Number(value);
}

/** Parses a small positive integer option (e.g. `--parallel`). */
export function parsePositive(max: number) {
  return (value: string): number => {
    const n = parseInteger(value);
    if (n < 1 || n > max) throw new InvalidArgumentError(`must be 1..${max}`);
    return n;
  };
}
