import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const resultsDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'results');

export type Row = Record<string, string | number>;

/** Prints rows as a markdown table. */
export function printTable(rows: Row[]): void {
  const first = rows[0];
  if (!first) return;
  const columns = Object.keys(first);
  const line = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`;
  console.log(line(columns));
  console.log(line(columns.map(() => '---')));
  for (const row of rows) console.log(line(columns.map((c) => row[c] ?? '')));
}

/** Writes bench/results/<name>.json with the rows and the machine they ran on. */
export function writeResults(name: string, rows: Row[], extra: Record<string, unknown> = {}): void {
  mkdirSync(resultsDir, { recursive: true });
  const machine = {
    cpus: cpus().length,
    cpu: cpus()[0]?.model,
    memoryGiB: totalmem() / 2 ** 30,
    node: process.version,
  };
  const file = join(resultsDir, `${name}.json`);
  writeFileSync(
    file,
    `${JSON.stringify({ name, date: new Date().toISOString(), machine, rows, ...extra }, null, 2)}\n`,
  );
  console.log(`\nwrote ${file}`);
}

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;
