// Receipts (protocol/receipts.ts): once the registry commit holding a node's
// events resolved, the hub names their outbox ids to that node, which forgets
// them only then. Ids are gathered per node and sent on the next tick as one
// `receipts` message per node (more only past MAX_RECEIPT_RANGES ranges): a
// group commit resolves many events at once, so at thousands of events a
// second most ticks carry many ids in few ranges.
//
// QoS 0 and never waited for: a lost receipt costs the node one resend, which
// the hub takes as a duplicate and receipts again. So when the hub cannot
// send at once (no broker connection, or a send buffer already over its
// bound on a slow link) the receipt is dropped and counted, never queued:
// ingest and the PUBACKs on the same connection do not wait behind it.
import { receiptsFor } from "../../protocol/receipts.ts";
import { nodeTopic } from "../../protocol/topics.ts";

export interface ReceiptSenderOptions {
  /** Publishes at QoS 0 without waiting; false when it could not (HubMqtt.sendIfClear). */
  send(topic: string, payload: string): boolean;
  /** Per tick: outbox ids named in receipts sent, and ids whose receipt could not go (those events come again). */
  counted(sentIds: number, unsentIds: number): void;
  clock(): number;
  /**
   * How long ids wait for others before they go: 0 sends on the next turn
   * of the event loop (setImmediate), after every commit that resolved in
   * this one. Measured in docs/performance.md ("Receipts").
   */
  tickMs?: number;
}

export class ReceiptSender {
  private pending = new Map<string, number[]>();
  private scheduled: { cancel(): void } | null = null;

  constructor(private readonly options: ReceiptSenderOptions) {}

  /** `ob` of `nodeId` is committed: it goes in that node's next receipt. */
  add(nodeId: string, ob: number): void {
    const ids = this.pending.get(nodeId);
    if (ids) ids.push(ob);
    else this.pending.set(nodeId, [ob]);
    this.scheduled ??= this.schedule();
  }

  /** Sends what is gathered now (a clean stop does, before the connection closes). */
  flush(): void {
    this.scheduled?.cancel();
    this.scheduled = null;
    if (this.pending.size === 0) return;
    const gathered = this.pending;
    this.pending = new Map();
    const now = this.options.clock();
    let sent = 0;
    let unsent = 0;
    for (const [nodeId, ids] of gathered) {
      const topic = nodeTopic(nodeId, "receipts");
      for (const receipt of receiptsFor(ids, now)) {
        const named = receipt.ob.reduce((count, [first, last]) => count + last - first + 1, 0);
        if (this.options.send(topic, JSON.stringify(receipt))) sent += named;
        else unsent += named;
      }
    }
    this.options.counted(sent, unsent);
  }

  /** Drops what is gathered and cancels its tick (the hub stops: its connection is gone). */
  stop(): void {
    this.scheduled?.cancel();
    this.scheduled = null;
    this.pending.clear();
  }

  private schedule(): { cancel(): void } {
    const tickMs = this.options.tickMs ?? 0;
    if (tickMs === 0) {
      const immediate = setImmediate(() => this.flush());
      return { cancel: () => clearImmediate(immediate) };
    }
    const timer = setTimeout(() => this.flush(), tickMs);
    return { cancel: () => clearTimeout(timer) };
  }
}
