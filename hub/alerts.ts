// The hub's alert sink: what needs an operator's eye (the fleet frozen by the
// Supervisor, capital downgraded to MICRO, roles in conflict, the federation
// engine unhealthy). raise() keeps the alert, newest last, and logs it as one
// line; GET /api/federation/alerts lists them. Kept in memory and bounded
// (ALERTS_KEPT, the oldest going first): alerts are for now, the audit trail
// of decisions is what lasts; a restart starts with none. The next issue's
// alerting (notifications) reads from here.
import { z } from "zod";

export const ALERT_SEVERITIES = ["critical", "high", "medium", "low"] as const;
export type AlertSeverity = (typeof ALERT_SEVERITIES)[number];

/** What is raised: `kind` says what happened in a word (`fleet_frozen`), `message` to a person; `at` in ms. */
export const Alert = z.strictObject({
  severity: z.enum(ALERT_SEVERITIES),
  kind: z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,63}$/, "a lowercase word of at most 64 characters, e.g. fleet_frozen"),
  message: z.string().min(1).max(1024),
  at: z.int().min(0),
});
export type Alert = z.infer<typeof Alert>;

/** An alert as kept: numbered in the order raised (from 1). */
export interface RaisedAlert extends Alert {
  seq: number;
}

/** A few days of a busy federation's alerts at most; about 300 KB. */
export const ALERTS_KEPT = 1000;

export class Alerts {
  private readonly kept: RaisedAlert[] = [];
  private raised = 0;
  /** Told of each alert as it is raised (the dashboard's live stream). */
  private readonly listeners: Array<(alert: RaisedAlert) => void> = [];

  constructor(
    private readonly log: (line: string) => void,
    private readonly limit = ALERTS_KEPT,
  ) {}

  /** Keeps an alert and logs it; throws a TypeError naming the field of one that is malformed (a bug in the caller). */
  raise(input: Alert): RaisedAlert {
    const parsed = Alert.safeParse(input);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new TypeError(`alert ${issue.path.join(".") || "input"}: ${issue.message}`);
    }
    // One line in the log whatever the message holds: a newline there could forge a line.
    const message = parsed.data.message.replace(/[\u0000-\u001f\u007f]+/g, " ");
    const alert: RaisedAlert = { seq: ++this.raised, ...parsed.data, message };
    this.kept.push(alert);
    if (this.kept.length > this.limit) this.kept.shift();
    this.log(`alert ${alert.severity} ${alert.kind}: ${message}`);
    for (const listener of this.listeners) listener(alert);
    return alert;
  }

  /** Calls `listener` with each alert raised from now on. */
  onRaise(listener: (alert: RaisedAlert) => void): void {
    this.listeners.push(listener);
  }

  /** Alerts raised at or after `since` (their `at`), newest first, at most `limit`. */
  list(options: { since?: number; limit: number }): RaisedAlert[] {
    const since = options.since ?? 0;
    const found: RaisedAlert[] = [];
    for (let i = this.kept.length - 1; i >= 0 && found.length < options.limit; i--) {
      if (this.kept[i]!.at >= since) found.push(this.kept[i]!);
    }
    return found;
  }

  /** Alerts let go to keep within the bound, since the hub started. */
  get dropped(): number {
    return this.raised - this.kept.length;
  }
}
