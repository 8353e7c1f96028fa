import type { z } from 'zod';

/** A config that does not validate; `issues` name the bad key paths. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    readonly source: string,
    readonly issues: readonly string[],
  ) {
    super(`invalid config ${source}:\n  ${issues.join('\n  ')}`);
  }
}

/** `path.to.key: message (set by ENV_VAR)` for each issue; `fromEnv` maps key paths to variables. */
export function formatIssues(error: z.ZodError, fromEnv?: ReadonlyMap<string, string>): string[] {
  return error.issues.map((issue) => {
    const path = issue.path
      .map((key, i) => (typeof key === 'number' ? `[${key}]` : `${i > 0 ? '.' : ''}${String(key)}`))
      .join('');
    const variable = [...(fromEnv ?? [])].find(
      ([key]) => path === key || path.startsWith(`${key}.`) || path.startsWith(`${key}[`),
    );
    const suffix = variable ? ` (set by ${variable[1]})` : '';
    return `${path || '(root)'}: ${issue.message}${suffix}`;
  });
}

/** Messages for zod's built-in issues, phrased for config files. */
export function issueMessage(issue: z.core.$ZodRawIssue): string | undefined {
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return 'required';
      if (issue.expected === 'int') return 'must be an integer';
      return `expected ${EXPECTED[issue.expected] ?? issue.expected}, got ${describe(issue.input)}`;
    case 'too_big':
      return issue.origin === 'number' ? `must be ≤ ${issue.maximum}` : undefined;
    case 'too_small':
      if (issue.origin === 'number') return `must be ≥ ${issue.minimum}`;
      return issue.origin === 'string' && issue.minimum === 1 ? 'must not be empty' : undefined;
    case 'invalid_value':
      return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'unrecognized_keys':
      return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`;
    default:
      return undefined;
  }
}

const EXPECTED: Readonly<Record<string, string>> = { object: 'a mapping', array: 'a list' };

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return `${typeof value} ${JSON.stringify(value)}`;
}
