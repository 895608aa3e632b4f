// decision_pending (medium): a decision some of whose targets have not
// acknowledged it EDGEFED_DECISION_PENDING_ALERT_S after it was issued (and
// that has not expired). Each decision is looked at once, when it passes the
// limit: a cursor (the last decision seq looked at, kept in the registry's
// hub values) walks the audit trail in seq order, which is issue order, so a
// restart neither alerts twice nor skips one. Only the leading replica looks
// (hub/replicas/leadership.ts), reading the cursor each time: the last
// leader may have moved it.
import type { Alerts } from "../alerts.ts";
import type { HubStore } from "../store/hub-store.ts";

const CURSOR_KEY = "alerts.decision_pending_cursor";
const PAGE = 100;
/** Node ids named in the message; the rest are counted. */
const NAMED = 10;

export interface PendingDecisionAlertsOptions {
  store: HubStore;
  alerts: Alerts;
  /** How long a decision may wait for its acks. */
  limitMs: number;
  /** Whether this replica leads (only the leader looks). */
  leads(): boolean;
  clock(): number;
  log(line: string): void;
}

export class PendingDecisionAlerts {
  private cursor = 0;
  private timer: ReturnType<typeof setInterval> | null = null;
  private checking: Promise<void> | null = null;

  private constructor(private readonly options: PendingDecisionAlertsOptions) {}

  /** Starts looking, every quarter of the limit (between 1 s and 1 min). */
  static async start(options: PendingDecisionAlertsOptions): Promise<PendingDecisionAlerts> {
    const watcher = new PendingDecisionAlerts(options);
    watcher.cursor = Number((await options.store.hubValues.get(CURSOR_KEY)) ?? 0);
    const everyMs = Math.min(60_000, Math.max(1000, options.limitMs / 4));
    watcher.timer = setInterval(() => void watcher.check(), everyMs);
    watcher.timer.unref?.();
    return watcher;
  }

  /** Looks at every decision that passed the limit since the last look (one look at a time), when leading. */
  check(): Promise<void> {
    if (!this.options.leads()) return Promise.resolve();
    this.checking ??= this.lookAtPassed()
      .catch((error: Error) => this.options.log(`looking for unacknowledged decisions failed: ${error.message}`))
      .finally(() => (this.checking = null));
    return this.checking;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.checking;
  }

  private async lookAtPassed(): Promise<void> {
    const { store, alerts, limitMs, clock } = this.options;
    if (store.shared) this.cursor = Number((await store.hubValues.get(CURSOR_KEY)) ?? 0);
    for (;;) {
      const now = clock();
      const passed = await store.decisions.unacknowledged({ afterSeq: this.cursor, issuedBefore: now - limitMs, limit: PAGE });
      if (passed.length === 0) return;
      for (const { message, pending } of passed) {
        if (pending.length === 0 || message.expiresAt <= now) continue;
        const named = pending.slice(0, NAMED).join(", ") + (pending.length > NAMED ? ` and ${pending.length - NAMED} more` : "");
        const waited = Math.round((now - message.issuedAt) / 1000);
        alerts.raise({
          severity: "medium",
          kind: "decision_pending",
          subject: message.id,
          message: `decision ${message.id} (${message.type} to ${message.target}) not acknowledged after ${waited} s by ${pending.length} node(s): ${named}`,
          at: now,
        });
      }
      const cursor = passed.at(-1)!.seq;
      await store.write((tx) => tx.hubValues.put(CURSOR_KEY, String(cursor)));
      this.cursor = cursor;
      if (passed.length < PAGE) return;
    }
  }
}
