// The outbox events the agent sent with their outbox id (`ob`) and the hub
// has not yet receipted (protocol/receipts.ts): in memory only, because the
// events themselves stay in the durable outbox until their receipt, and a
// restarted agent sends everything there again anyway.
//
// It decides when an event is due again (no receipt within the timeout,
// doubling per resend up to a ceiling, so a hub that stopped answering is
// asked less and less often) and how many may be in flight at once, and it
// counts resends. AgentMqtt (agent-mqtt.ts) does the publishing.

export interface ReceiptTiming {
  /** No receipt this long after a send: send it again. */
  timeoutMs: number;
  /** The timeout doubles per resend of an event, up to this. */
  maxTimeoutMs: number;
  /** Events awaiting a receipt at most: the drain waits past this (a hub that stopped answering is not flooded). */
  maxInFlight: number;
}

export const DEFAULT_RECEIPT_TIMING: ReceiptTiming = { timeoutMs: 10_000, maxTimeoutMs: 120_000, maxInFlight: 5_000 };

export interface ReceiptStats {
  /** Events sent with their outbox id and not receipted yet. */
  awaiting: number;
  /** How long ago the oldest of them was first sent on this connection, ms (0: none). */
  oldestAgeMs: number;
  /** Events sent again since the agent started: no receipt in time, or a new connection. */
  resends: number;
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

  constructor(readonly timing: ReceiptTiming) {
    if (!(timing.timeoutMs > 0) || !(timing.maxTimeoutMs >= timing.timeoutMs) || !(timing.maxInFlight >= 1)) {
      throw new Error(`receipt timing: need 0 < timeoutMs <= maxTimeoutMs and maxInFlight >= 1, not ${JSON.stringify(timing)}`);
    }
  }

  /** How many more may be sent now. */
  room(): number {
    return Math.max(0, this.timing.maxInFlight - this.inFlight.size);
  }

  get size(): number {
    return this.inFlight.size;
  }

  /** `id` was published with its `ob` (first time on this connection). */
  sent(id: number, now: number): void {
    if (this.inFlight.has(id)) return this.resent(id, now);
    if (id <= this.sentBeforeThrough) this.resends++;
    this.inFlight.set(id, { firstSentAt: now, resends: 0, dueAt: now + this.timing.timeoutMs });
  }

  /** `id` was published again because it was due. */
  resent(id: number, now: number): void {
    const entry = this.inFlight.get(id);
    if (!entry) return;
    entry.resends++;
    this.resends++;
    entry.dueAt = now + Math.min(this.timing.timeoutMs * 2 ** entry.resends, this.timing.maxTimeoutMs);
  }

  /** A receipt named these inclusive ranges: those ids await nothing any more. Returns the ids that were in flight. */
  receipted(ranges: readonly (readonly [number, number])[]): number[] {
    const removed: number[] = [];
    for (const [first, last] of ranges) {
      // A short range is looked up id by id, a long one by a pass over what is in flight.
      if (last - first < this.inFlight.size) {
        for (let id = first; id <= last; id++) if (this.inFlight.delete(id)) removed.push(id);
      } else {
        for (const id of this.inFlight.keys()) if (id >= first && id <= last && this.inFlight.delete(id)) removed.push(id);
      }
    }
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
  }

  stats(now: number): ReceiptStats {
    const oldest = this.inFlight.values().next();
    return { awaiting: this.inFlight.size, oldestAgeMs: oldest.done ? 0 : Math.max(0, now - oldest.value.firstSentAt), resends: this.resends };
  }
}
