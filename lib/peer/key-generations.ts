/**
 * A counter per key, bumped whenever the cluster evicts versions of the key. A download captures
 * the key's generation when it starts and indexes its result only if the generation did not
 * move: a version deleted or overwritten while it was downloading never becomes the key's
 * cached version. Bounded: the oldest keys are forgotten past `maxKeys` (a forgotten key reads as
 * generation 0, so a download that started before may then index; keep the bound far above the
 * keys changed during one download).
 */
export class KeyGenerations {
  readonly #generations = new Map<string, number>();
  readonly #maxKeys: number;
  #next = 1;

  constructor(maxKeys = 100_000) {
    this.#maxKeys = maxKeys;
  }

  current(bucket: string, key: string): number {
    return this.#generations.get(keyOf(bucket, key)) ?? 0;
  }

  bump(bucket: string, key: string): void {
    const id = keyOf(bucket, key);
    this.#generations.delete(id);
    this.#generations.set(id, this.#next++);
    if (this.#generations.size > this.#maxKeys) {
      const oldest = this.#generations.keys().next().value;
      if (oldest !== undefined) this.#generations.delete(oldest);
    }
  }
}

function keyOf(bucket: string, key: string): string {
  return `${bucket}\0${key}`;
}
