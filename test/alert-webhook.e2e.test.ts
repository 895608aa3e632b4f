// The hub's alerts posted to a webhook, end to end: a real hub (embedded
// broker, registry file) posting to a local HTTP sink. A node going offline
// is one post; a sink that fails twice gets the alert on the third try, once,
// and one that does not answer in time gets it again; an alert left
// undelivered when the hub stops is delivered once after it starts again, and
// one delivered before is not posted again; repeats are not posted and the
// rate limit holds back, listing everything; a FREEZE of the fleet is a
// critical post and its end a medium one; a decision left unacknowledged is
// posted; the URL's secret never reaches the log.
import { afterAll, afterEach, expect, test } from "bun:test";
import { hostname } from "node:os";
import type { MqttClient } from "mqtt";
import type { WebhookPost } from "../hub/alerting/webhook-sender.ts";
import { openSqliteRegistry } from "../hub/store/sqlite/sqlite-store.ts";
import { nodeTopic } from "../protocol/topics.ts";
import { removeTempDirs } from "./helpers.ts";
import { connectNode, eventually, newNode, registerBody, startTestHub, type TestHub } from "./support/hub-harness.ts";
import { NO_ANSWER, SINK_SECRET, startWebhookSink, type WebhookSink } from "./support/webhook-sink.ts";

afterAll(() => removeTempDirs());

const running: { stop(): Promise<void> }[] = [];
afterEach(async () => {
  for (const thing of running.splice(0).reverse()) await thing.stop().catch(() => {});
});

function sink(): WebhookSink {
  const started = startWebhookSink();
  running.push(started);
  return started;
}

async function hubPostingTo(webhook: WebhookSink, env: Record<string, string> = {}, dataDir?: string): Promise<{ t: TestHub; log: string[] }> {
  const log: string[] = [];
  const t = await startTestHub({
    dataDir,
    log: (line) => log.push(line),
    env: { EDGEFED_ALERT_WEBHOOK_URL: webhook.url, EDGEFED_ALERT_WEBHOOK_RETRY_MS: "50", ...env },
  });
  running.push(t);
  return { t, log };
}

async function onlineNode(t: TestHub, nodeId: string): Promise<MqttClient> {
  const registered = await t.api("POST", "/federation/register", registerBody(newNode(nodeId)), t.enrollmentToken());
  expect(registered.status).toBe(201);
  const client = await connectNode(registered.body.mqtt);
  running.push({ stop: () => client.endAsync(true) });
  await say(client, nodeId, "online");
  await eventually(() => t.hub.context.fleet.get(nodeId)?.health === "healthy", 5000, `${nodeId} healthy`);
  return client;
}

const say = (client: MqttClient, nodeId: string, state: "online" | "offline") =>
  client.publishAsync(nodeTopic(nodeId, "state"), JSON.stringify({ state, bootId: "boot-1", ts: Date.now() }), { qos: 1 });

const postsOf = (webhook: WebhookSink, kind: string): WebhookPost[] => webhook.delivered().filter((p) => p.kind === kind);
const waitForPost = (webhook: WebhookSink, kind: string, what = kind) => eventually(() => postsOf(webhook, kind)[0], 10_000, `a ${what} post`);

test("a node going offline is one post, with what the alert says and who the hub is; coming back is another", async () => {
  const webhook = sink();
  const { t, log } = await hubPostingTo(webhook);
  const client = await onlineNode(t, "pi-webhook-1");
  await say(client, "pi-webhook-1", "offline");
  const offline = await waitForPost(webhook, "node_offline");
  expect(offline).toMatchObject({
    severity: "high",
    kind: "node_offline",
    subject: "pi-webhook-1",
    dedup_key: "node_offline:pi-webhook-1",
    message: "node pi-webhook-1 is offline: node said offline (last will or clean stop)",
    hub: { host: hostname() },
  });
  expect(offline.hub.id).toMatch(/^[A-Za-z0-9_-]{16}$/);
  expect(offline.at_iso).toBe(new Date(offline.at).toISOString());
  expect(offline.text).toBe(`[HIGH] node_offline on ${hostname()}: ${offline.message}`);
  expect(offline.content).toBe(offline.text);
  expect(webhook.requests[0]!.headers["content-type"]).toBe("application/json");
  expect(webhook.requests[0]!.path).toBe(`/hooks/${SINK_SECRET}`);
  await say(client, "pi-webhook-1", "online");
  const back = await waitForPost(webhook, "node_back");
  expect(back).toMatchObject({ severity: "low", subject: "pi-webhook-1" });
  expect(back.seq).toBeGreaterThan(offline.seq);
  // Posts go in order: with the later one in, the offline one was posted once and only once.
  expect(postsOf(webhook, "node_offline")).toHaveLength(1);
  expect(webhook.requests).toHaveLength(2);
  expect((await t.api("GET", "/api/federation/alerts")).body.alerts.map((a: { kind: string }) => a.kind)).toEqual(["node_back", "node_offline"]);
  expect(log.some((line) => line.includes(`alert webhook: posting to http://127.0.0.1:${new URL(webhook.url).port}/…`))).toBe(true);
  expect(log.join("\n")).not.toContain(SINK_SECRET);
});

test("a sink answering 500 twice gets the alert on the third try, once; a 4xx is dropped for good and the next goes", async () => {
  const webhook = sink();
  webhook.script = [500, 500];
  const { t, log } = await hubPostingTo(webhook);
  const { seq } = await t.hub.context.alerts.raise({ severity: "high", kind: "capital_micro", subject: "pi-9", message: "capital of pi-9 down to MICRO", at: Date.now() });
  await eventually(() => webhook.delivered().length === 1, 10_000, "the third try");
  expect(webhook.requests.map((r) => [r.post.seq, r.status])).toEqual([
    [seq, 500],
    [seq, 500],
    [seq, 200],
  ]);
  expect(webhook.requests.map((r) => r.headers["idempotency-key"])).toEqual(Array(3).fill(`${webhook.requests[0]!.post.hub.id}-${seq}`));
  expect(log.filter((line) => line.startsWith("alert webhook:") && line.includes("HTTP 500"))).toHaveLength(2);

  webhook.script = [404];
  const refused = await t.hub.context.alerts.raise({ severity: "low", kind: "engine_unhealthy", message: "refused by the sink", at: Date.now() });
  const next = await t.hub.context.alerts.raise({ severity: "low", kind: "engine_unhealthy", message: "taken by the sink", at: Date.now() });
  await eventually(() => webhook.delivered().some((p) => p.seq === next.seq), 10_000, "the alert after the refused one");
  await eventually(async () => (await t.hub.context.store.alerts.outbox(10)).length === 0, 10_000, "its delivery recorded");
  expect(webhook.requests.slice(3).map((r) => [r.post.seq, r.status])).toEqual([
    [refused.seq, 404],
    [next.seq, 200],
  ]);
  expect(log.some((line) => line.includes(`alert ${refused.seq} (engine_unhealthy)`) && line.includes("refused (HTTP 404), dropped"))).toBe(true);
  expect(t.hub.webhook!.counters).toEqual({ delivered: 2, failed: 1, retries: 2 });
  expect((await t.hub.context.store.alerts.list({ limit: 10 })).map((a) => [a.seq, a.delivery])).toEqual([
    [next.seq, "delivered"],
    [refused.seq, "failed"],
    [seq, "delivered"],
  ]);
});

test("a sink that does not answer within the timeout gets the alert again", async () => {
  const webhook = sink();
  webhook.script = [NO_ANSWER];
  const { t, log } = await hubPostingTo(webhook, { EDGEFED_ALERT_WEBHOOK_TIMEOUT_MS: "300" });
  const { seq } = await t.hub.context.alerts.raise({ severity: "medium", kind: "decision_pending", subject: "dec_x", message: "dec_x waits", at: Date.now() });
  await eventually(() => webhook.delivered().length === 1, 10_000, "the second try");
  expect(webhook.requests.map((r) => [r.post.seq, r.status])).toEqual([
    [seq, NO_ANSWER],
    [seq, 200],
  ]);
  expect(log.some((line) => line.includes(`alert ${seq} (decision_pending)`) && line.includes("failed (no answer within 300 ms), attempt 1"))).toBe(true);
});

test("an alert undelivered when the hub stops is delivered once after it starts again; one delivered before is not posted again", async () => {
  const webhook = sink();
  const { t } = await hubPostingTo(webhook);
  const delivered = await t.hub.context.alerts.raise({ severity: "high", kind: "node_offline", subject: "pi-a", message: "pi-a is offline", at: Date.now() });
  await eventually(() => webhook.delivered().length === 1, 10_000, "the first alert delivered");
  webhook.always = 503;
  const pending = await t.hub.context.alerts.raise({ severity: "critical", kind: "fleet_frozen", subject: "fleet", message: "the fleet is frozen", at: Date.now() });
  await eventually(() => webhook.requests.some((r) => r.post.seq === pending.seq), 10_000, "a failed try");
  await t.stop();
  running.splice(running.indexOf(t), 1);
  const registry = openSqliteRegistry(t.dataDir);
  expect((await registry.alerts.outbox(10)).map((e) => [e.alert.seq, e.attempts > 0])).toEqual([[pending.seq, true]]);
  registry.close();

  webhook.always = null;
  const { t: again } = await hubPostingTo(webhook, {}, t.dataDir);
  await eventually(() => webhook.delivered().some((p) => p.seq === pending.seq), 10_000, "the undelivered alert after the restart");
  // One more alert after it, delivered in order: nothing else is coming before it.
  const later = await again.hub.context.alerts.raise({ severity: "low", kind: "node_back", subject: "pi-a", message: "pi-a is back", at: Date.now() });
  expect(later.seq).toBe(pending.seq + 1);
  await eventually(() => webhook.delivered().some((p) => p.seq === later.seq), 10_000, "the alert raised after the restart");
  expect(webhook.delivered().map((p) => p.seq)).toEqual([delivered.seq, pending.seq, later.seq]);
  expect((await again.api("GET", "/api/federation/alerts")).body.alerts.map((a: { seq: number }) => a.seq)).toEqual([later.seq, pending.seq, delivered.seq]);
});

test("a repeat within the dedup window is not posted and the rate limit holds back; every alert is still listed", async () => {
  const webhook = sink();
  const { t, log } = await hubPostingTo(webhook, { EDGEFED_ALERT_WEBHOOK_PER_MINUTE: "3" });
  const raise = (subject: string, kind = "node_offline") => t.hub.context.alerts.raise({ severity: "high", kind, subject, message: `${subject} is offline`, at: Date.now() });
  raise("pi-1");
  raise("pi-1"); // the same again: deduplicated
  raise("pi-1", "node_back"); // something else about pi-1: posted
  raise("pi-2");
  raise("pi-3"); // the fourth post in a minute: held
  raise("pi-4"); // held
  await t.hub.context.alerts.settled();
  await eventually(async () => (await t.hub.context.store.alerts.outbox(10)).length === 0, 10_000, "the outbox emptied");
  expect(webhook.delivered().map((p) => p.dedup_key)).toEqual(["node_offline:pi-1", "node_back:pi-1", "node_offline:pi-2"]);
  expect(webhook.requests).toHaveLength(3);
  expect((await t.hub.context.store.alerts.list({ limit: 10 })).map((a) => a.delivery)).toEqual(["held", "held", "delivered", "delivered", "deduplicated", "delivered"]);
  expect(log.filter((line) => line.endsWith("(webhook: held)"))).toHaveLength(2);
  const listed = (await t.api("GET", "/api/federation/alerts")).body;
  expect(listed.alerts).toHaveLength(6);
  expect(listed.dropped).toBe(0);
});

test("a FREEZE of the fleet is a critical post, its end a medium one; a decision left unacknowledged is posted", async () => {
  const webhook = sink();
  const { t } = await hubPostingTo(webhook, { EDGEFED_DECISION_PENDING_ALERT_S: "1" });
  const registered = await t.api("POST", "/federation/register", registerBody(newNode("pi-silent")), t.enrollmentToken());
  expect(registered.status).toBe(201); // registered, never connected: it acknowledges nothing
  const freeze = await t.api("POST", "/api/federation/decisions", { type: "FREEZE", target: "fleet", payload: { reason: "maintenance" } });
  expect(freeze.status).toBe(201);
  const frozen = await waitForPost(webhook, "fleet_frozen");
  expect(frozen).toMatchObject({ severity: "critical", subject: "fleet" });
  expect(frozen.message).toBe(`the fleet is frozen by an operator: FREEZE to 1 node(s), decision ${freeze.body.id}`);
  const resume = await t.api("POST", "/api/federation/decisions", { type: "MODE_CHANGE", target: "fleet", payload: { mode: "LIVE" } });
  expect(resume.status).toBe(201);
  expect(await waitForPost(webhook, "fleet_unfrozen")).toMatchObject({ severity: "medium", subject: "fleet" });
  const pending = await eventually(() => postsOf(webhook, "decision_pending").length === 2 && postsOf(webhook, "decision_pending"), 10_000, "two decision_pending posts");
  expect(pending.map((p) => p.subject)).toEqual([freeze.body.id, resume.body.id]);
  expect(pending[0]!.message).toMatch(new RegExp(`^decision ${freeze.body.id} \\(FREEZE to fleet\\) not acknowledged after \\d+ s by 1 node\\(s\\): pi-silent$`));
});
