// The hub's alerts as settings ask: the sink over the registry
// (hub/alerts.ts) and, with EDGEFED_ALERT_WEBHOOK_URL, the gate deciding what
// is posted and the sender delivering the outbox (started at once: a previous
// run may have left posts undelivered; only the leading replica posts).
// hub.ts calls it at start-up.
import { hostname } from "node:os";
import { Alerts } from "../alerts.ts";
import type { Leadership } from "../replicas/leadership.ts";
import type { HubSettings } from "../settings.ts";
import type { HubStore } from "../store/hub-store.ts";
import { WebhookGate } from "./webhook-gate.ts";
import { WebhookSender } from "./webhook-sender.ts";
import { redactedUrl } from "./webhook-url.ts";

type AlertSettings = Pick<HubSettings, "alertWebhookUrl" | "alertWebhookPerMinute" | "alertDedupS" | "alertWebhookTimeoutMs" | "alertWebhookRetryMs">;

/** The rate limit's window: EDGEFED_ALERT_WEBHOOK_PER_MINUTE posts in it. */
const MINUTE_MS = 60_000;

/** The alert sink over the registry and, with EDGEFED_ALERT_WEBHOOK_URL, the webhook that posts what its gate lets through. */
export async function openAlerts(
  settings: AlertSettings,
  store: HubStore,
  hubPublicKey: string,
  leadership: Leadership,
  log: (line: string) => void,
): Promise<{ alerts: Alerts; webhook: WebhookSender | null }> {
  const url = settings.alertWebhookUrl;
  const gate = url ? new WebhookGate({ posts: settings.alertWebhookPerMinute, windowMs: MINUTE_MS, dedupMs: settings.alertDedupS * 1000 }) : null;
  const alerts = await Alerts.load({ store, log, clock: Date.now, gate });
  if (!url) return { alerts, webhook: null };
  const webhook = new WebhookSender({
    url,
    store,
    hub: { id: hubPublicKey.slice(0, 16), host: hostname() },
    timeoutMs: settings.alertWebhookTimeoutMs,
    retryBaseMs: settings.alertWebhookRetryMs,
    leadership,
    clock: Date.now,
    log,
  });
  alerts.whenQueued(webhook.kick);
  webhook.kick(); // what a previous run left undelivered
  log(`alert webhook: posting to ${redactedUrl(url)} (at most ${settings.alertWebhookPerMinute} a minute, repeats within ${settings.alertDedupS} s not posted)`);
  return { alerts, webhook };
}
