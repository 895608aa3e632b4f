// The kernel's memory of recent trading, read by the COOLDOWN and RATE_LIMIT
// gates: when each symbol last traded or closed, and the times of recent
// authorised trades. In memory only; the intent processor rebuilds it from its
// journal on start, so it survives restarts.

export const RATE_WINDOW_MS = 600_000;
/**
 * How far behind the newest trade an intent may be and still be judged. The
 * rate check needs every trade within one window either side of the intent,
 * so trades are kept for this horizon plus a window; an older intent cannot be
 * judged and is held as STALE_INTENT rather than passed on partial history.
 */
export const STALE_AFTER_MS = 1_800_000;

export class TradeWindow {
  private readonly lastTrade = new Map<string, number>();
  private readonly lastClose = new Map<string, number>();
  /** Authorised trade times, ascending, from `start` on (earlier slots are pruned lazily). */
  private times: number[] = [];
  private start = 0;
  private newest = -Infinity;

  /** The time a symbol's cooldown runs from: its later of last trade and last close. */
  cooldownFrom(symbol: string): number | undefined {
    const trade = this.lastTrade.get(symbol);
    const close = this.lastClose.get(symbol);
    if (trade === undefined) return close;
    return close === undefined || trade > close ? trade : close;
  }

  isStale(ts: number): boolean {
    return ts < this.newest - STALE_AFTER_MS;
  }

  /**
   * True if one more trade at `ts` would put more than `maxTrades` trades into
   * some 600 s window. Windows are half-open: trades exactly 600 s apart never
   * share one. Intents may arrive slightly out of time order, so every run of
   * maxTrades+1 consecutive trades that includes `ts` is checked, not just the
   * window ending at `ts`.
   */
  wouldExceedRate(ts: number, maxTrades: number): boolean {
    const t = this.times;
    if (t.length - this.start < maxTrades) return false; // too few trades kept to fill any window
    const p = this.upperBound(ts); // trades at or before ts sit in [start, p)
    for (let after = 0; after <= maxTrades; after++) {
      const before = maxTrades - after;
      if (p - before < this.start || p + after > t.length) continue;
      const first = before > 0 ? t[p - before]! : ts;
      const last = after > 0 ? t[p + after - 1]! : ts;
      if (last - first < RATE_WINDOW_MS) return true;
    }
    return false;
  }

  recordTrade(symbol: string, ts: number): void {
    this.restoreLastTrade(symbol, ts);
    const p = this.upperBound(ts);
    if (p === this.times.length) this.times.push(ts);
    else this.times.splice(p, 0, ts);
    if (ts > this.newest) {
      this.newest = ts;
      this.prune();
    }
  }

  /** Restores a symbol's last trade time without adding to the rate window (its trade may be long gone). */
  restoreLastTrade(symbol: string, ts: number): void {
    const previous = this.lastTrade.get(symbol);
    if (previous === undefined || ts > previous) this.lastTrade.set(symbol, ts);
  }

  recordClose(symbol: string, ts: number): void {
    const previous = this.lastClose.get(symbol);
    if (previous === undefined || ts > previous) this.lastClose.set(symbol, ts);
  }

  /** Trades older than this can no longer affect any intent that is not stale. */
  retainFrom(): number {
    return this.newest - STALE_AFTER_MS - RATE_WINDOW_MS;
  }

  private prune(): void {
    const keepFrom = this.retainFrom();
    while (this.start < this.times.length && this.times[this.start]! < keepFrom) this.start++;
    // Compact once the dead prefix dominates, so memory stays bounded at O(window).
    if (this.start > 1024 && this.start * 2 > this.times.length) {
      this.times = this.times.slice(this.start);
      this.start = 0;
    }
  }

  private upperBound(ts: number): number {
    let lo = this.start;
    let hi = this.times.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.times[mid]! <= ts) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
