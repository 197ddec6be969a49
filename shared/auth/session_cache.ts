/**
 * Verified tokens remembered for a short while, so that a user's burst of requests
 * pays for signature checks and client setup once. An entry lives until the token
 * expires or `maxAgeMs` passes, whichever is first; the map is bounded (the oldest
 * entry goes first).
 */
export class SessionCache<V> {
  #entries = new Map<string, { value: V; until: number }>();

  constructor(
    private readonly maxAgeMs = 60_000,
    private readonly maxEntries = 1_000,
    private readonly now: () => number = Date.now,
  ) {}

  get(token: string): V | undefined {
    const entry = this.#entries.get(token);
    if (!entry) return undefined;
    if (entry.until <= this.now()) {
      this.#entries.delete(token);
      return undefined;
    }
    return entry.value;
  }

  /** Remembers a verified token; `expiresAtMs` is its `exp` in milliseconds, if it has one. */
  set(token: string, value: V, expiresAtMs?: number): void {
    if (this.#entries.size >= this.maxEntries) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
    const until = Math.min(expiresAtMs ?? Infinity, this.now() + this.maxAgeMs);
    if (until > this.now()) this.#entries.set(token, { value, until });
  }
}
