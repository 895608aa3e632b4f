// Delivers the webhook's outbox (HubStore.alerts.outbox): one alert at a time,
// in seq order, each as a JSON POST with a timeout. A 2xx marks it delivered;
// a network error, a timeout, a 5xx or a 429 is tried again after a jittered
// backoff (lib/backoff.ts) that doubles up to RETRY_MAX_MS, the entries
// behind it waiting (order is kept); any other 4xx is a permanent failure:
// logged, counted and dropped. An alert still undelivered GIVE_UP_AFTER_MS
// after it was raised is given up the same way. What became of each entry is
// committed before the next is sent, so a hub restart neither loses an
// undelivered alert nor posts a delivered one again; stop() lets the post in
// flight finish (bounded by the timeout) and records it.
//
// Replicas sharing the registry share the outbox, and only the leader posts
// (hub/replicas/leadership.ts): a replica that stops leading posts nothing
// more (the post in flight finishes and is recorded); one that starts leading
// waits first, so a post the last leader still had in flight is answered and
// recorded before the outbox is read again: the last leader learns it lost
// the lock only at its next check (up to LEADERSHIP_TICK_MS + TICK_TIMEOUT_MS
// after the server freed it) and may start one more post until then, which
// then runs up to the post timeout; no alert is posted twice on a handover. A leader that died mid-post never records it:
// that one alert is posted again, with the same idempotency-key header.
// The leader looks at the outbox every OUTBOX_POLL_MS too, for what other
// replicas queued.
import { backoffMs } from "../../lib/backoff.ts";
import { LEADERSHIP_TICK_MS, TICK_TIMEOUT_MS, type Leadership } from "../replicas/leadership.ts";
import type { HubStore, StoredAlert } from "../store/hub-store.ts";
import { dedupKey } from "./webhook-gate.ts";
import { redactedUrl } from "./webhook-url.ts";

/** Retries never wait longer than this. */
export const RETRY_MAX_MS = 5 * 60_000;
/** An alert not delivered within a day of being raised is given up: it is stale, and the outbox must not grow forever. */
export const GIVE_UP_AFTER_MS = 86_400_000;

export interface WebhookSenderOptions {
  url: string;
  store: HubStore;
  /** Who posts: the hub's id (from its public key) and its host name. */
  hub: { id: string; host: string };
  timeoutMs: number;
  /** The first retry's delay; each next one doubles, up to RETRY_MAX_MS. */
  retryBaseMs: number;
  /** Posts only while this replica leads. */
  leadership: Leadership;
  clock(): number;
  log(line: string): void;
}

/** What the sink receives. */
export interface WebhookPost {
  seq: number;
  severity: StoredAlert["severity"];
  kind: string;
  subject: string;
  message: string;
  /** ms since the epoch, and the same as ISO 8601. */
  at: number;
  at_iso: string;
  /** kind:subject: the same key is not posted twice within the dedup window. */
  dedup_key: string;
  hub: { id: string; host: string };
  /**
   * The alert in one line, `[SEVERITY] kind on host: message`, under the
   * names chat webhooks read (Slack and Mattermost `text`, Discord
   * `content`), so one works without a relay in between.
   */
  text: string;
  content: string;
}

type Outcome = { kind: "delivered" } | { kind: "retry"; reason: string } | { kind: "refused"; reason: string };

/** Beyond the post timeout on a handover: the last leader may post until it notices it lost the lock, then records the answer. */
const HANDOVER_MARGIN_MS = LEADERSHIP_TICK_MS + TICK_TIMEOUT_MS + 1000;
/** How often the leader of replicas sharing the registry looks for posts the others queued. */
export const OUTBOX_POLL_MS = 1000;

export class WebhookSender {
  readonly counters = { delivered: 0, failed: 0, retries: 0 };
  private running: Promise<void> | null = null;
  private kickedWhileRunning = false;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private readonly poll: ReturnType<typeof setInterval> | null = null;
  /** No post before this (ms): a handover's wait for the last leader's post in flight. */
  private notBefore = 0;
  private stopped = false;
  private readonly shownUrl: string;

  constructor(private readonly options: WebhookSenderOptions) {
    this.shownUrl = redactedUrl(options.url);
    if (!options.store.shared) return;
    // Leading from the start or taking over: the last leader's post in flight gets its answer (bounded by the timeout) and is recorded first.
    const waitForLastLeader = () => (this.notBefore = options.clock() + options.timeoutMs + HANDOVER_MARGIN_MS);
    waitForLastLeader();
    options.leadership.onChange((leading) => leading && waitForLastLeader());
    this.poll = setInterval(this.kick, OUTBOX_POLL_MS);
    this.poll.unref?.();
  }

  /** Looks at the outbox now (something was queued, or the hub started), if this replica leads. */
  readonly kick = (): void => {
    if (this.stopped || !this.options.leadership.leads() || this.options.clock() < this.notBefore) return;
    if (this.running) {
      this.kickedWhileRunning = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.running = this.drain().finally(() => {
      this.running = null;
      if (this.kickedWhileRunning) {
        this.kickedWhileRunning = false;
        this.kick();
      }
    });
  };

  /** Sends nothing more; resolves once the post in flight (if any) is finished and recorded. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.poll) clearInterval(this.poll);
    await this.running;
  }

  private async drain(): Promise<void> {
    const { store, clock, log } = this.options;
    while (!this.stopped && this.options.leadership.leads()) {
      let entry;
      try {
        [entry] = await store.alerts.outbox(1);
      } catch (error) {
        log(`alert webhook: reading the outbox failed: ${(error as Error).message}`);
        return this.wakeIn(this.options.retryBaseMs);
      }
      if (!entry) return;
      const wait = entry.nextAttemptAt - clock();
      if (wait > 0) return this.wakeIn(wait);
      const outcome = await this.post(entry.alert);
      try {
        await this.record(entry.alert, entry.attempts, outcome);
      } catch (error) {
        log(`alert webhook: recording alert ${entry.alert.seq} failed: ${(error as Error).message}`);
        return this.wakeIn(this.options.retryBaseMs);
      }
    }
  }

  private wakeIn(ms: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(this.kick, ms);
    this.timer.unref?.();
  }

  private async post(alert: StoredAlert): Promise<Outcome> {
    const { hub, timeoutMs } = this.options;
    const line = `[${alert.severity.toUpperCase()}] ${alert.kind} on ${hub.host}: ${alert.message}`;
    const body: WebhookPost = {
      seq: alert.seq,
      severity: alert.severity,
      kind: alert.kind,
      subject: alert.subject,
      message: alert.message,
      at: alert.at,
      at_iso: new Date(alert.at).toISOString(),
      dedup_key: dedupKey(alert),
      hub,
      text: line,
      content: line,
    };
    try {
      const response = await fetch(this.options.url, {
        method: "POST",
        headers: { "content-type": "application/json", "user-agent": "edgefed-hub", "idempotency-key": `${hub.id}-${alert.seq}` },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
        redirect: "manual",
      });
      await response.body?.cancel().catch(() => {});
      if (response.ok) return { kind: "delivered" };
      const reason = `HTTP ${response.status}`;
      return response.status >= 500 || response.status === 429 ? { kind: "retry", reason } : { kind: "refused", reason };
    } catch (error) {
      const e = error as Error;
      // A fetch error may quote the URL, token and all: only its kind is said.
      return { kind: "retry", reason: e.name === "TimeoutError" ? `no answer within ${timeoutMs} ms` : `network error (${e.name})` };
    }
  }

  private async record(alert: StoredAlert, attempts: number, outcome: Outcome): Promise<void> {
    const { store, clock, log } = this.options;
    const about = `alert ${alert.seq} (${alert.kind}) to ${this.shownUrl}`;
    if (outcome.kind === "delivered") {
      await store.write((tx) => tx.alerts.setDelivery([alert.seq], "delivered"));
      this.counters.delivered++;
      return;
    }
    const now = clock();
    if (outcome.kind === "refused" || now - alert.at > GIVE_UP_AFTER_MS) {
      await store.write((tx) => tx.alerts.setDelivery([alert.seq], "failed"));
      this.counters.failed++;
      const why = outcome.kind === "refused" ? `refused (${outcome.reason}), dropped` : `given up after ${attempts + 1} attempts (${outcome.reason})`;
      log(`alert webhook: ${about} ${why}`);
      return;
    }
    const delay = backoffMs(attempts, this.options.retryBaseMs, RETRY_MAX_MS);
    await store.write((tx) => tx.alerts.retryLater(alert.seq, attempts + 1, now + delay));
    this.counters.retries++;
    log(`alert webhook: ${about} failed (${outcome.reason}), attempt ${attempts + 1}; next in ${delay} ms`);
  }
}
