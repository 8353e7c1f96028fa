import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from './config-errors.ts';

// The errors live in config-errors.ts so that the functions' env parsers, which read no YAML,
// do not bundle the yaml package (bench/lambda.ts).
export { ConfigError, formatIssues, issueMessage } from './config-errors.ts';

/**
 * Reads a YAML config file (none: `{}`, every default) and returns its top-level mapping with
 * the name errors should cite. Throws ConfigError for an unreadable file, bad YAML or a
 * document that is not a mapping.
 */
export async function readYamlConfig(
  path: string | undefined,
): Promise<{ raw: Record<string, unknown>; source: string }> {
  const source = path ?? '(defaults)';
  if (path === undefined) return { raw: {}, source };
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new ConfigError(source, [`cannot read: ${(error as Error).message}`]);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text) ?? {};
  } catch (error) {
    throw new ConfigError(source, [`not valid YAML: ${(error as Error).message}`]);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(source, ['the config must be a YAML mapping']);
  }
  return { raw: raw as Record<string, unknown>, source };
}
