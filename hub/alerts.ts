// The hub's alert sink: what needs an operator's eye (a node offline or back,
// the fleet frozen or unfrozen, a decision left unacknowledged, and the
// federation roles' alerts). raise() numbers the alert, logs it as one line
// and stores it in the registry (HubStore.alerts, bounded), so GET
// /api/federation/alerts lists it after a restart too. With a webhook
// (EDGEFED_ALERT_WEBHOOK_URL) the gate (alerting/webhook-gate.ts) says in the
// same breath whether it is posted, deduplicated or held by the rate limit;
// a posted one goes into the outbox in the same transaction as the alert,
// which alerting/webhook-sender.ts delivers in order.
//
// Numbering: on SQLite (one hub) alerts are numbered in memory, as raised; on
// a registry several replicas share (HubStore.shared) the seq is taken in the
// alert's own write (AlertWrites.nextSeq), so two replicas never give one seq
// twice, and this replica's writes run one after another so its outbox order
// is its raise order.
import { z } from "zod";
import type { WebhookGate, WebhookLimits } from "./alerting/webhook-gate.ts";
import { ALERTS_KEPT, type AlertDelivery, type HubStore, type StoredAlert, type StoreTransaction } from "./store/hub-store.ts";

export const ALERT_SEVERITIES = ["critical", "high", "medium", "low"] as const;
export type AlertSeverity = (typeof ALERT_SEVERITIES)[number];

/**
 * What is raised: `kind` says what happened in a word (`fleet_frozen`),
 * `subject` what it is about (a node id, "fleet", a decision id; the message
 * when absent), `message` to a person; `at` in ms.
 */
export const Alert = z.strictObject({
  severity: z.enum(ALERT_SEVERITIES),
  kind: z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,63}$/, "a lowercase word of at most 64 characters, e.g. fleet_frozen"),
  subject: z.string().min(1).max(256).optional(),
  message: z.string().min(1).max(1024),
  at: z.int().min(0),
});
export type Alert = z.infer<typeof Alert>;

/** An alert as listed: numbered in the order raised (from 1). */
export interface RaisedAlert {
  seq: number;
  severity: AlertSeverity;
  kind: string;
  message: string;
  at: number;
}

/** Kind of the post that summarises alerts held back by the webhook's rate limit. */
export const HELD_BACK_KIND = "alerts_held_back";

export interface AlertsOptions {
  store: HubStore;
  log(line: string): void;
  clock(): number;
  /** Decides what the webhook posts; null without a webhook (alerts are only kept). */
  gate: WebhookGate | null;
}

export class Alerts {
  /** The last seq given, when numbering in memory (SQLite). */
  private lastSeq = 0;
  /** The last write queued: writes commit in the order queued, so once it has, every alert raised before has. */
  private lastWrite: Promise<unknown> = Promise.resolve();
  private readonly queuedListeners: Array<() => void> = [];
  private readonly raisedListeners: Array<(alert: RaisedAlert) => void> = [];
  private summaryTimer: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;

  private constructor(private readonly options: AlertsOptions) {}

  /** The sink over the alerts the registry keeps: numbering goes on, and the gate learns what was posted and held. */
  static async load(options: AlertsOptions): Promise<Alerts> {
    const alerts = new Alerts(options);
    const { store, gate, clock } = options;
    if (!store.shared) alerts.lastSeq = await store.alerts.lastSeq();
    if (gate) {
      const now = clock();
      const window = Math.max(gate.limits.dedupMs, gate.limits.windowMs);
      const [recent, held] = await Promise.all([store.alerts.list({ since: now - window, limit: ALERTS_KEPT }), store.alerts.list({ delivery: "held", limit: ALERTS_KEPT })]);
      gate.seed(recent, held, now);
      alerts.armSummary();
    }
    return alerts;
  }

  /**
   * Numbers, logs and stores an alert; resolves with it once stored (or once
   * storing failed, which is logged: the promise never rejects, callers may
   * leave it). Throws a TypeError naming the field of one that is malformed
   * (a bug in the caller).
   */
  raise(input: Alert): Promise<RaisedAlert> {
    const parsed = Alert.safeParse(input);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new TypeError(`alert ${issue.path.join(".") || "input"}: ${issue.message}`);
    }
    // One line in the log whatever the message holds: a newline there could forge a line.
    const message = oneLine(parsed.data.message);
    const { severity, kind, at } = parsed.data;
    // The gate keeps this object, so a held one learns its seq (given in its write on a shared registry).
    const alert: StoredAlert = { seq: this.seqBeforeWrite(), severity, kind, subject: oneLine(parsed.data.subject ?? message), message, at, delivery: "none" };
    if (this.options.gate) alert.delivery = this.options.gate.admit(alert, this.options.clock());
    const note = alert.delivery === "deduplicated" || alert.delivery === "held" ? ` (webhook: ${alert.delivery})` : "";
    this.options.log(`alert ${severity} ${kind}: ${message}${note}`);
    const raised = (): RaisedAlert => ({ seq: alert.seq, severity, kind, message, at });
    const stored = this.store((tx) => this.addNumbered(tx, alert), alert.delivery === "queued");
    if (alert.delivery === "held") this.armSummary();
    if (!this.numberedInRegistry) {
      this.tellRaised(raised());
      return stored.then(raised);
    }
    return stored.then(() => {
      const numbered = raised();
      if (numbered.seq !== 0) this.tellRaised(numbered);
      return numbered;
    });
  }

  private get numberedInRegistry(): boolean {
    return this.options.store.shared;
  }

  /** A new alert's seq: the next in memory on SQLite; 0 on a shared registry, where addNumbered gives it in the write. */
  private seqBeforeWrite(): number {
    return this.numberedInRegistry ? 0 : ++this.lastSeq;
  }

  /** Stores `alert`, numbering it in this write if it has no seq yet (a shared registry: two replicas never give one seq twice). */
  private async addNumbered(tx: StoreTransaction, alert: StoredAlert): Promise<void> {
    if (alert.seq === 0) alert.seq = await tx.alerts.nextSeq();
    await tx.alerts.add(alert);
  }

  private tellRaised(alert: RaisedAlert): void {
    for (const listener of this.raisedListeners) listener(alert);
  }

  /** Calls `listener` with each alert raised from now on, as it is raised (counters). */
  whenRaised(listener: (alert: RaisedAlert) => void): void {
    this.raisedListeners.push(listener);
  }

  /** Alerts raised at or after `since` (their `at`), newest first, at most `limit`; those just raised included. */
  async list(options: { since?: number; limit: number }): Promise<RaisedAlert[]> {
    await this.settled();
    const stored = await this.options.store.alerts.list(options);
    return stored.map(({ seq, severity, kind, message, at }) => ({ seq, severity, kind, message, at }));
  }

  /** Alerts let go to keep within the registry's bound. */
  async dropped(): Promise<number> {
    await this.settled();
    const [last, kept] = await Promise.all([this.options.store.alerts.lastSeq(), this.options.store.alerts.count()]);
    return last - kept;
  }

  /** Resolves once every alert raised so far is stored (or failed to be, which was logged). */
  settled(): Promise<void> {
    return this.lastWrite.then(() => undefined);
  }

  /** Calls `listener` whenever a post has gone into the outbox, once committed (the webhook sender). */
  whenQueued(listener: () => void): void {
    this.queuedListeners.push(listener);
  }

  /** No summary of held alerts from now on; what is raised is still stored. */
  stop(): void {
    this.stopped = true;
    if (this.summaryTimer) clearTimeout(this.summaryTimer);
  }

  /** Resolves once committed, or once failing was logged. */
  private store(work: Parameters<HubStore["write"]>[0], queued: boolean): Promise<void> {
    const begin = () => this.options.store.write(work);
    // One after another on a shared registry: each alert's seq is taken in its write, in raise order.
    const committed = this.numberedInRegistry ? this.lastWrite.then(begin) : begin();
    const write = committed.then(
      () => {
        if (queued) for (const listener of this.queuedListeners) listener();
      },
      (error: Error) => this.options.log(`storing an alert failed: ${error.message}`),
    );
    this.lastWrite = write;
    return write;
  }

  /** Once a post fits under the rate limit again, the held alerts go as one summary. */
  private armSummary(): void {
    const gate = this.options.gate;
    if (!gate || this.stopped || this.summaryTimer) return;
    const at = gate.nextSummaryAt(this.options.clock());
    if (at === null) return;
    this.summaryTimer = setTimeout(() => {
      this.summaryTimer = null;
      this.summariseHeld();
      this.armSummary();
    }, Math.max(0, at - this.options.clock()));
    this.summaryTimer.unref?.();
  }

  private summariseHeld(): void {
    const now = this.options.clock();
    const held = this.options.gate?.heldSummary(now);
    if (!held) return;
    const kinds = Object.entries(held.kinds)
      .map(([kind, n]) => `${n} ${kind}`)
      .join(", ");
    const message = `${held.alerts.length} alert(s) held back by the webhook's rate limit (${describeRate(this.options.gate!.limits)}) since ${new Date(held.since).toISOString()}: ${kinds}; the most severe: ${held.mostSevere}`;
    const alert: StoredAlert = { seq: this.seqBeforeWrite(), severity: held.severity, kind: HELD_BACK_KIND, subject: "webhook", message: message.slice(0, 1024), at: now, delivery: "queued" };
    this.options.log(`alert ${alert.severity} ${alert.kind}: ${alert.message}`);
    void this.store(async (tx) => {
      await this.addNumbered(tx, alert);
      // Read here, not when summarised: on a shared registry the held ones got their seqs in the writes before this one.
      await tx.alerts.setDelivery(held.alerts.map((a) => a.seq), "summarised" satisfies AlertDelivery);
    }, true);
  }
}

function describeRate(limits: WebhookLimits): string {
  return limits.windowMs === 60_000 ? `${limits.posts} a minute` : `${limits.posts} in ${limits.windowMs} ms`;
}

function oneLine(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f]+/g, " ");
}
