// Token buckets by key (a source address, a token's hash, a node id), for the
// hub's rate limits. Each key may spend `burst` at once, then `perSecond`.
//
// Hand-written rather than a library: hono-rate-limiter (the Hono one) counts
// fixed windows, not a bucket, and is HTTP middleware only, while the MQTT
// publish budget needs the same bucket outside HTTP. This is the whole
// algorithm, in a page.
//
// Memory stays bounded whatever callers send: buckets live in a Map kept in
// least-recently-used order; a bucket that has refilled whole is as good as
// none and is dropped when it reaches the front, and past `maxKeys` the least
// recently used goes, so an attacker cycling addresses gets no more than a
// fresh burst per address, never unbounded memory.

export interface BucketRate {
  /** Takes a key may spend at once. */
  burst: number;
  /** Tokens a key gets back per second, up to `burst`. */
  perSecond: number;
}

export type Take = { allowed: true } | { allowed: false; /** Until a token is back. */ retryAfterMs: number };

/** Keys kept at most unless told otherwise: about 100 bytes each. */
export const DEFAULT_MAX_KEYS = 10_000;

interface Bucket {
  tokens: number;
  /** When `tokens` was last brought up to date (ms). */
  at: number;
}

export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();
  private readonly maxKeys: number;

  constructor(
    readonly rate: BucketRate,
    options: { maxKeys?: number } = {},
  ) {
    if (!(rate.burst >= 1) || !(rate.perSecond > 0)) throw new Error(`token bucket: burst must be at least 1 and perSecond above 0, not ${rate.burst} and ${rate.perSecond}`);
    this.maxKeys = options.maxKeys ?? DEFAULT_MAX_KEYS;
  }

  /** Spends one token of `key`'s bucket at `now` (ms), or says how long until one is back. */
  take(key: string, now: number): Take {
    const bucket = this.buckets.get(key) ?? { tokens: this.rate.burst, at: now };
    this.buckets.delete(key); // re-inserted last: the most recently used
    bucket.tokens = this.tokensAt(bucket, now);
    bucket.at = now;
    const allowed = bucket.tokens >= 1;
    if (allowed) bucket.tokens -= 1;
    this.buckets.set(key, bucket);
    this.evict(now);
    if (allowed) return { allowed };
    return { allowed, retryAfterMs: Math.ceil(((1 - bucket.tokens) / this.rate.perSecond) * 1000) };
  }

  /** Gives `key` back one token (a request that turned out not to count), up to the burst. */
  refund(key: string): void {
    const bucket = this.buckets.get(key);
    if (bucket) bucket.tokens = Math.min(this.rate.burst, bucket.tokens + 1);
  }

  /** Keys held now (for tests and the bound). */
  get size(): number {
    return this.buckets.size;
  }

  private tokensAt(bucket: Bucket, now: number): number {
    return Math.min(this.rate.burst, bucket.tokens + (Math.max(0, now - bucket.at) / 1000) * this.rate.perSecond);
  }

  /** From the least recently used: drops buckets refilled whole, and any past the bound. Each bucket goes once: O(1) a take, amortised. */
  private evict(now: number): void {
    for (const [key, bucket] of this.buckets) {
      if (this.buckets.size <= this.maxKeys && this.tokensAt(bucket, now) < this.rate.burst) return;
      this.buckets.delete(key);
    }
  }
}
