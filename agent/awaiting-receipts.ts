// The outbox events the agent sent with their outbox id (`ob`) and the hub
// has not yet receipted (protocol/receipts.ts): in memory only, because the
// events themselves stay in the durable outbox until their receipt, and a
// restarted agent sends everything there again anyway.
//
// It decides when an event is due again (no receipt within the timeout,
// doubling per resend up to a ceiling, so a hub that stopped answering is
// asked less and less often) and how many may be in flight at once, and it
// counts resends. AgentMqtt (agent-mqtt.ts) does the publishing.
//
// The timeout follows how long receipts take, as TCP's retransmission
// timeout follows round trips (RFC 6298): a smoothed receipt time plus four
// times its variation, never below timeoutMs. A hub that is behind (its
// ingest lag was 30 s in bench scale's overloaded runs) would otherwise get
// every event again after 10 s, on top of its backlog. Only events sent once
// are measured (Karn's rule: a resent event's receipt may answer either send),
// so while receipts keep timing out the timeout itself doubles at each turn
// of resends and stays doubled until a receipt of an event sent once comes
// (Karn's algorithm, RFC 6298 5.5): a hub falling further behind is measured
// by nothing else.

export interface ReceiptTiming {
  /** No receipt this long after a send: send it again. The least timeout: it grows with how long receipts take. */
  timeoutMs: number;
  /** The timeout doubles per resend of an event, up to this. */
  maxTimeoutMs: number;
  /** Events awaiting a receipt at most: the drain waits past this (a hub that stopped answering is not flooded). */
  maxInFlight: number;
  /**
   * Each connection stretches or shrinks its timeouts by a random factor within
   * 1 ± jitter (0: none), so after a stall the fleet's resends do not all fall
   * due at once. One factor per connection keeps a node's resends in id order.
   */
  jitter?: number;
}

export const DEFAULT_RECEIPT_TIMING: ReceiptTiming = { timeoutMs: 10_000, maxTimeoutMs: 120_000, maxInFlight: 5_000, jitter: 0.2 };

export interface ReceiptStats {
  /** Events sent with their outbox id and not receipted yet. */
  awaiting: number;
  /** How long ago the oldest of them was first sent on this connection, ms (0: none). */
  oldestAgeMs: number;
  /** Events sent again since the agent started: no receipt in time, or a new connection. */
  resends: number;
  /** The smoothed time from a send to its receipt, ms (null: none measured yet). */
  receiptMs: number | null;
  /** The wait for a receipt after a first send now, ms. */
  timeoutMs: number;
}

interface InFlight {
  firstSentAt: number;
  resends: number;
  dueAt: number;
}

export class AwaitingReceipts {
  /** By outbox id, in the order first sent (which is id order: the drain sends in id order, and startOver empties it). */
  private readonly inFlight = new Map<number, InFlight>();
  /** Ids up to this were sent on an earlier connection or mode: sending one again is a resend. */
  private sentBeforeThrough = 0;
  private resends = 0;
  /** This connection's factor on every timeout (ReceiptTiming.jitter). */
  private stretch = 1;
  /** RFC 6298's SRTT and RTTVAR for receipts, ms (null: no sample yet). */
  private smoothed: { receiptMs: number; variationMs: number } | null = null;
  /** The timeout's factor from turns of resends since the last sample (1, 2, 4, ...). */
  private backoff = 1;
  /** No second doubling before this (ms since the epoch): one per timeout, however many batches a turn sends. */
  private nextBackOffAt = 0;

  constructor(
    readonly timing: ReceiptTiming,
    private readonly random: () => number = Math.random,
  ) {
    const jitter = timing.jitter ?? 0;
    if (!(timing.timeoutMs > 0) || !(timing.maxTimeoutMs >= timing.timeoutMs) || !(timing.maxInFlight >= 1) || !(jitter >= 0 && jitter < 1)) {
      throw new Error(`receipt timing: need 0 < timeoutMs <= maxTimeoutMs, maxInFlight >= 1 and 0 <= jitter < 1, not ${JSON.stringify(timing)}`);
    }
    this.pickStretch();
  }

  private pickStretch(): void {
    this.stretch = 1 + (this.timing.jitter ?? 0) * (2 * this.random() - 1);
  }

  /** The wait for a receipt after a first send: what receipts take (RFC 6298's RTO), within timeoutMs..maxTimeoutMs. */
  private baseTimeout(): number {
    const measured = this.smoothed ? this.smoothed.receiptMs + 4 * this.smoothed.variationMs : 0;
    return Math.min(Math.max(measured, this.timing.timeoutMs) * this.backoff, this.timing.maxTimeoutMs);
  }

  /** The wait for a receipt after an event's `resends`-th resend (0: its first send). */
  private timeoutAfter(resends: number): number {
    return this.stretch * Math.min(this.baseTimeout() * 2 ** resends, this.timing.maxTimeoutMs);
  }

  /**
   * A turn of resends (receipts timed out): the timeout doubles, up to
   * maxTimeoutMs, until a receipt of an event sent once measures again.
   * At most once per timeout, however many batches of events a turn sends.
   */
  backOff(now: number): void {
    if (now < this.nextBackOffAt) return;
    if (this.baseTimeout() < this.timing.maxTimeoutMs) this.backoff *= 2;
    this.nextBackOffAt = now + this.baseTimeout();
  }

  /** One measured time from a first send to its receipt (RFC 6298, section 2). */
  private measured(receiptMs: number): void {
    this.backoff = 1;
    this.nextBackOffAt = 0;
    if (!this.smoothed) {
      this.smoothed = { receiptMs, variationMs: receiptMs / 2 };
      return;
    }
    this.smoothed.variationMs = 0.75 * this.smoothed.variationMs + 0.25 * Math.abs(this.smoothed.receiptMs - receiptMs);
    this.smoothed.receiptMs = 0.875 * this.smoothed.receiptMs + 0.125 * receiptMs;
  }

  /** How many more may be sent now. */
  room(): number {
    return Math.max(0, this.timing.maxInFlight - this.inFlight.size);
  }

  get size(): number {
    return this.inFlight.size;
  }

  /** `id` was published with its `ob` by the drain (a resend if it was in flight already, or sent on an earlier connection). */
  sent(id: number, now: number): void {
    if (this.inFlight.has(id)) return this.resent(id, now);
    if (id <= this.sentBeforeThrough) this.resends++;
    this.inFlight.set(id, { firstSentAt: now, resends: 0, dueAt: now + this.timeoutAfter(0) });
  }

  /** `id` was published again because it was due. */
  resent(id: number, now: number): void {
    const entry = this.inFlight.get(id);
    if (!entry) return;
    entry.resends++;
    this.resends++;
    entry.dueAt = now + this.timeoutAfter(entry.resends);
  }

  /**
   * A receipt named these inclusive ranges at `now`: those ids await nothing
   * any more. Returns the ids that were in flight. The receipt is one sample
   * of how long receipts take: its oldest event sent only once.
   */
  receipted(ranges: readonly (readonly [number, number])[], now: number): number[] {
    const removed: number[] = [];
    let oldestSentOnce: number | null = null;
    const take = (id: number) => {
      const entry = this.inFlight.get(id);
      if (!entry) return;
      this.inFlight.delete(id);
      removed.push(id);
      if (entry.resends === 0 && (oldestSentOnce === null || entry.firstSentAt < oldestSentOnce)) oldestSentOnce = entry.firstSentAt;
    };
    for (const [first, last] of ranges) {
      // A short range is looked up id by id, a long one by a pass over what is in flight.
      if (last - first < this.inFlight.size) {
        for (let id = first; id <= last; id++) take(id);
      } else {
        for (const id of [...this.inFlight.keys()]) if (id >= first && id <= last) take(id);
      }
    }
    if (oldestSentOnce !== null) this.measured(Math.max(0, now - oldestSentOnce));
    return removed;
  }

  /** `ids` left the outbox otherwise (a capped kind's oldest dropped): nothing to resend. */
  forget(ids: readonly number[]): void {
    for (const id of ids) this.inFlight.delete(id);
  }

  /** The ids whose receipt is overdue at `now`, in id order. */
  due(now: number): number[] {
    const ids: number[] = [];
    for (const [id, entry] of this.inFlight) if (entry.dueAt <= now) ids.push(id);
    return ids.sort((a, b) => a - b);
  }

  /** When the next one falls due (ms since the epoch), or null with none in flight. */
  nextDueAt(): number | null {
    let next: number | null = null;
    for (const entry of this.inFlight.values()) if (next === null || entry.dueAt < next) next = entry.dueAt;
    return next;
  }

  /** A new connection, or receipts switched on or off: everything in flight is sent again from the outbox, counted as resends. */
  startOver(): void {
    for (const id of this.inFlight.keys()) this.sentBeforeThrough = Math.max(this.sentBeforeThrough, id);
    this.inFlight.clear();
    this.pickStretch();
  }

  stats(now: number): ReceiptStats {
    const oldest = this.inFlight.values().next();
    return {
      awaiting: this.inFlight.size,
      oldestAgeMs: oldest.done ? 0 : Math.max(0, now - oldest.value.firstSentAt),
      resends: this.resends,
      receiptMs: this.smoothed ? Math.round(this.smoothed.receiptMs) : null,
      timeoutMs: Math.round(this.stretch * this.baseTimeout()),
    };
  }
}
