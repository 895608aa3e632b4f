// A time series of samples kept for a bounded time: what a rule's lookback
// window reads. Samples arrive in time order (the hub's time of
// observation); one older than the newest is placed where it belongs.
import type { Method } from "./config.ts";

export interface Sample {
  at: number;
}

export class Series<T extends Sample> {
  private items: T[] = [];
  /**
   * Each sample's time, side by side in one array: the binary searches of
   * every window read these, not the samples scattered over the heap (a
   * replay does millions of them a minute).
   */
  private times: number[] = [];
  /** Index of the oldest sample still kept (the ones before it are dropped in batches). */
  private head = 0;
  /**
   * The last window start found (a rule asks for the same one several
   * times in one evaluation: its count, then each metric), until the next
   * sample comes.
   */
  private lastStart = { from: NaN, index: 0 };

  constructor(
    private readonly retentionMs: number,
    private readonly maxSamples = 20_000,
  ) {}

  push(sample: T): void {
    const { items, times } = this;
    let i = items.length;
    while (i > this.head && times[i - 1]! > sample.at) i--;
    if (i === items.length) {
      items.push(sample);
      times.push(sample.at);
    } else {
      items.splice(i, 0, sample);
      times.splice(i, 0, sample.at);
    }
    this.trim(times[times.length - 1]!);
    this.lastStart.from = NaN;
  }

  get size(): number {
    return this.items.length - this.head;
  }

  latest(): T | undefined {
    return this.size ? this.items[this.items.length - 1] : undefined;
  }

  /** Each of the samples with `from <= at <= to`, oldest first, without copying them. */
  each(from: number, to: number, visit: (sample: T) => void): void {
    const items = this.items;
    const end = this.firstAfter(to);
    for (let i = this.firstAtOrAfter(from); i < end; i++) visit(items[i]!);
  }

  /** The newest first of the samples with `from <= at <= to`, without copying them: stop early by returning false. */
  eachNewest(from: number, to: number, visit: (sample: T) => boolean | void): void {
    const start = this.firstAtOrAfter(from);
    for (let i = this.firstAfter(to) - 1; i >= start; i--) if (visit(this.items[i]!) === false) return;
  }

  /** How many samples have `from <= at <= to`. */
  count(from: number, to = Infinity): number {
    return this.firstAfter(to) - this.firstAtOrAfter(from);
  }

  /** The values of the samples with `from <= at <= to` as one figure by `method` (newest first, in that order); NaN for none. */
  aggregate(from: number, to: number, of: (sample: T) => number, method: Method): number {
    const items = this.items;
    const start = this.firstAtOrAfter(from);
    const end = this.firstAfter(to);
    if (end <= start) return NaN;
    let result = of(items[end - 1]!);
    if (method === "latest") return result;
    for (let i = end - 2; i >= start; i--) {
      const v = of(items[i]!);
      if (method === "min") result = Math.min(result, v);
      else if (method === "max") result = Math.max(result, v);
      else result += v;
    }
    return method === "mean" ? result / (end - start) : result;
  }

  /** The sum of a value over the samples with `from <= at <= to`, oldest first (in that order), and how many there are. */
  sum(from: number, to: number, of: (sample: T) => number): { sum: number; count: number } {
    const items = this.items;
    const start = this.firstAtOrAfter(from);
    const end = this.firstAfter(to);
    let sum = 0;
    for (let i = start; i < end; i++) sum += of(items[i]!);
    return { sum, count: Math.max(0, end - start) };
  }

  /** The first index (from head) of a sample at or after `time`, or the end: a binary search. */
  private firstAtOrAfter(time: number): number {
    if (time === this.lastStart.from) return this.lastStart.index;
    const times = this.times;
    let low = this.head;
    let high = times.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (times[mid]! >= time) high = mid;
      else low = mid + 1;
    }
    this.lastStart.from = time;
    this.lastStart.index = low;
    return low;
  }

  /** The first index (from head) of a sample after `time`, or the end (at once when no sample is: windows mostly end now). */
  private firstAfter(time: number): number {
    const times = this.times;
    if (times.length === this.head || times[times.length - 1]! <= time) return times.length;
    let low = this.head;
    let high = times.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (times[mid]! > time) high = mid;
      else low = mid + 1;
    }
    return low;
  }

  private trim(newest: number): void {
    const cutoff = newest - this.retentionMs;
    const { times } = this;
    while (this.head < times.length && (times[this.head]! < cutoff || times.length - this.head > this.maxSamples)) this.head++;
    if (this.head > 1024 && this.head * 2 > times.length) {
      this.items = this.items.slice(this.head);
      this.times = times.slice(this.head);
      this.head = 0;
    }
  }
}

/** Rounds a figure for a reason or an inputs record (readable, and stable across runs). */
export function figure(value: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
