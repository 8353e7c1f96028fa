/**
 * The bytes of small complete tasks (whole objects of at most SMALL_READ_BYTES), kept in memory
 * for HTTP GETs: a hit then costs no open, read and close. Keyed by the store's task record, so
 * a task that is removed (or removed and fetched again) is never served from here: reads find
 * its record first, and a new record misses. A complete task's bytes never change (its ID names
 * its content). Least recently used entries go once the total passes the budget.
 */
export class SmallObjectCache<K extends object> {
  readonly #entries = new Map<K, Buffer>();
  readonly #budget: number;
  #bytes = 0;

  constructor(budgetBytes: number) {
    this.#budget = budgetBytes;
  }

  get(key: K): Buffer | undefined {
    const bytes = this.#entries.get(key);
    if (bytes === undefined) return undefined;
    // Most recently used last.
    this.#entries.delete(key);
    this.#entries.set(key, bytes);
    return bytes;
  }

  set(key: K, bytes: Buffer): void {
    if (bytes.length > this.#budget) return;
    const old = this.#entries.get(key);
    if (old !== undefined) {
      this.#bytes -= old.length;
      this.#entries.delete(key);
    }
    this.#entries.set(key, bytes);
    this.#bytes += bytes.length;
    for (const [oldest, value] of this.#entries) {
      if (this.#bytes <= this.#budget) break;
      this.#entries.delete(oldest);
      this.#bytes -= value.length;
    }
  }

  get bytes(): number {
    return this.#bytes;
  }
}
