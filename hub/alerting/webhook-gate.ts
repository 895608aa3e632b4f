// Which alerts the webhook posts: deduplication (an alert of the same kind
// and subject as the last one posted about that subject, less than the
// window ago, is not posted: a repeat says nothing new, while offline, back,
// offline all go) and a rate limit (at most `posts` in any `windowMs`, a
// minute in the hub). An alert over the limit is held, not lost, and so is
// every alert after it while any is held (a storm must not starve the
// summary): once a post fits again, the held ones are summarised in one post
// (heldSummary) that names the most severe. Pure
// and in memory, with time given; the hub seeds it at start from the alerts
// it stored (seed), so a restart neither forgets what was posted a moment
// ago nor what was held.
import type { AlertSeverity } from "../alerts.ts";
import type { AlertDelivery, StoredAlert } from "../store/hub-store.ts";

export interface WebhookLimits {
  /** Posts in any `windowMs` at most (the hub: EDGEFED_ALERT_WEBHOOK_PER_MINUTE in a minute). */
  posts: number;
  windowMs: number;
  /** A repeat of the last alert posted about a subject less than this ago is not posted; 0: every alert is. */
  dedupMs: number;
}

/** Subjects remembered before those past the window are forgotten (the map stays small). */
const KEYS_BEFORE_PRUNING = 1000;
const SEVERITY_RANK: Record<AlertSeverity, number> = { low: 0, medium: 1, high: 2, critical: 3 };

/** An alert's dedup key, told to the sink: its kind and what it is about. */
export function dedupKey(alert: { kind: string; subject: string }): string {
  return `${alert.kind}:${alert.subject}`;
}

/** The alerts held back by the rate limit, summarised in one post. */
export interface HeldSummary {
  /** The alerts held (read their seqs once their writes committed). */
  alerts: readonly HeldAlert[];
  /** The highest severity among them. */
  severity: AlertSeverity;
  /** How many of each kind. */
  kinds: Record<string, number>;
  /** The message of the first of the highest severity. */
  mostSevere: string;
  /** When the first was raised. */
  since: number;
}

export type HeldAlert = Pick<StoredAlert, "seq" | "severity" | "kind" | "message" | "at">;

type Admission = Extract<AlertDelivery, "queued" | "deduplicated" | "held">;

export class WebhookGate {
  /** The last alert posted about each subject: its kind and when. */
  private readonly lastPosted = new Map<string, { kind: string; at: number }>();
  /** When each post of the last window was admitted, oldest first. */
  private postTimes: number[] = [];
  private held: HeldAlert[] = [];

  constructor(readonly limits: WebhookLimits) {}

  /** Takes up what the store says of recent alerts (newest first or any order) and those still held. */
  seed(recent: readonly StoredAlert[], held: readonly StoredAlert[], now: number): void {
    for (const alert of [...recent].sort((a, b) => a.seq - b.seq)) {
      if (alert.delivery !== "queued" && alert.delivery !== "delivered" && alert.delivery !== "failed") continue;
      this.lastPosted.set(alert.subject, { kind: alert.kind, at: alert.at });
      if (alert.at > now - this.limits.windowMs) this.postTimes.push(alert.at);
    }
    this.held = [...held].sort((a, b) => a.seq - b.seq).map(({ seq, severity, kind, message, at }) => ({ seq, severity, kind, message, at }));
  }

  /** Whether an alert raised at `now` is posted, deduplicated or held; a held one is remembered for the summary. */
  admit(alert: HeldAlert & Pick<StoredAlert, "subject">, now: number): Admission {
    const last = this.lastPosted.get(alert.subject);
    if (last?.kind === alert.kind && now - last.at < this.limits.dedupMs) return "deduplicated";
    if (this.held.length > 0 || !this.slotFree(now)) {
      // The alert itself, not a copy: on a shared registry its seq is set when its write takes one.
      this.held.push(alert);
      return "held";
    }
    this.postTimes.push(now);
    this.lastPosted.set(alert.subject, { kind: alert.kind, at: now });
    if (this.lastPosted.size > KEYS_BEFORE_PRUNING) this.forgetOlderThan(now - this.limits.dedupMs);
    return "queued";
  }

  /** If alerts are held and a post fits at `now`: takes that post and returns what to summarise; else null. */
  heldSummary(now: number): HeldSummary | null {
    if (this.held.length === 0 || !this.slotFree(now)) return null;
    this.postTimes.push(now);
    const held = this.held;
    this.held = [];
    const kinds: Record<string, number> = {};
    let worst = held[0]!;
    for (const alert of held) {
      kinds[alert.kind] = (kinds[alert.kind] ?? 0) + 1;
      if (SEVERITY_RANK[alert.severity] > SEVERITY_RANK[worst.severity]) worst = alert;
    }
    return { alerts: held, severity: worst.severity, kinds, mostSevere: worst.message, since: held[0]!.at };
  }

  /** When a held summary may go (the oldest post of the minute leaves it), or null when nothing is held. */
  nextSummaryAt(now: number): number | null {
    if (this.held.length === 0) return null;
    this.slotFree(now);
    return this.postTimes.length < this.limits.posts ? now : this.postTimes[0]! + this.limits.windowMs;
  }

  get heldCount(): number {
    return this.held.length;
  }

  private forgetOlderThan(time: number): void {
    for (const [subject, last] of this.lastPosted) if (last.at < time) this.lastPosted.delete(subject);
  }

  private slotFree(now: number): boolean {
    while (this.postTimes.length && this.postTimes[0]! <= now - this.limits.windowMs) this.postTimes.shift();
    return this.postTimes.length < this.limits.posts;
  }
}
