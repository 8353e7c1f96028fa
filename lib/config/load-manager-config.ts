import { readYamlConfig } from './config-file.ts';
import { MANAGER_ENV_OVERRIDES, type ManagerConfig, parseManagerConfig } from './manager-config.ts';

// Apart from manager-config.ts so that the manager function (env only, lib/config/manager-env.ts)
// does not bundle the yaml package (bench/lambda.ts).

/**
 * Reads the YAML config at `path` (none: every default), applies `env` overrides, validates.
 * Throws ConfigError naming the key path of each problem.
 */
export async function loadManagerConfig(
  path: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
  options: { readonly cwd?: string } = {},
): Promise<ManagerConfig> {
  const { raw, source } = await readYamlConfig(path);
  const input: Record<string, unknown> = { ...raw };
  const fromEnv = new Map<string, string>();
  for (const [name, { key }] of Object.entries(MANAGER_ENV_OVERRIDES)) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    input[key] = key === 'port' && /^\d+$/.test(value) ? Number(value) : value;
    fromEnv.set(key, name);
  }
  return parseManagerConfig(input, { ...options, source, fromEnv });
}
