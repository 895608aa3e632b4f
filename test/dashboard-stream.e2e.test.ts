// The dashboard's live stream (GET /api/stream, server-sent events) against a
// real hub over real HTTP and MQTT: a node's row when it registers, comes
// online, goes offline (its connection dropped: the last will) and is
// removed; a decision on issue and on its ack; an alert as raised; 401
// without a session; the end of the stream when the session expires.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { MqttClient } from "mqtt";
import { nodeTopic } from "../protocol/topics.ts";
import { cleanUp } from "./helpers.ts";
import { dashboardLogin, openEventStream, type EventStream } from "./support/dashboard-client.ts";
import { connectNode, eventually, newNode, registerBody, startTestHub, type TestHub } from "./support/hub-harness.ts";
import { birth, heartbeat } from "./support/node-payloads.ts";

let hub: TestHub;
const logs: string[] = [];
const streams: EventStream[] = [];
const clients: MqttClient[] = [];

beforeAll(async () => {
  hub = await startTestHub({ log: (line) => logs.push(line) });
});
afterAll(async () => {
  for (const stream of streams) stream.close();
  for (const client of clients) client.end(true);
  await hub?.stop();
  await cleanUp();
});

async function streamOf(t: TestHub, token: string): Promise<EventStream> {
  const session = await dashboardLogin(t.hub.httpUrl, token);
  const stream = await openEventStream(t.hub.httpUrl, { cookie: session.cookie });
  streams.push(stream);
  return stream;
}

/** Registers a node and connects it with the agent's last will (offline). */
async function connectedNode(nodeId: string): Promise<MqttClient> {
  const node = newNode(nodeId);
  const registered = await hub.api("POST", "/federation/register", registerBody(node), hub.enrollmentToken());
  expect(registered.status).toBe(201);
  const will = { topic: nodeTopic(nodeId, "state"), payload: Buffer.from(JSON.stringify({ state: "offline", bootId: "boot-1", ts: Date.now() })), qos: 1 as const, retain: true };
  const client = await connectNode(registered.body.mqtt, { will });
  clients.push(client);
  return client;
}

const nodeEvent = (nodeId: string, health?: string) => (e: { event: string; data: any }) =>
  e.event === "node" && e.data.node_id === nodeId && (health === undefined || e.data.health === health);

describe("the live stream", () => {
  test("without a session or bearer it is 401; with a bearer it streams", async () => {
    const none = await hub.fetch(`/api/stream`);
    expect(none.status).toBe(401);
    await none.body?.cancel();
    const bearer = await openEventStream(hub.hub.httpUrl, { authorization: `Bearer ${hub.adminToken}` });
    streams.push(bearer);
    expect(bearer.status).toBe(200);
    expect(bearer.contentType).toStartWith("text/event-stream");
  });

  test("a node's row comes when it registers, comes online, goes offline and is removed", async () => {
    const stream = await streamOf(hub, hub.watchToken); // a viewer sees it too
    expect(stream.status).toBe(200);
    const client = await connectedNode("pi-live");
    const registered = await stream.next(nodeEvent("pi-live", "offline"), 10_000, "the registered node");
    expect(registered.data).toMatchObject({ node_id: "pi-live", health_cause: "registered, not heard from yet", verdicts_last_hour: { PASS: 0, HOLD: 0 } });
    await client.publishAsync(nodeTopic("pi-live", "birth"), birth("pi-live"), { qos: 1 });
    await client.publishAsync(nodeTopic("pi-live", "heartbeat"), heartbeat(1, { outbox_depth: 7 }), { qos: 0 });
    const online = await stream.next(nodeEvent("pi-live", "healthy"), 10_000, "the node healthy");
    expect(online.data).toMatchObject({ mode: "LIVE", connectivity: "online", outbox_depth: 7 });
    // The agent's connection drops: the broker publishes its last will.
    client.stream.destroy();
    const offline = await stream.next((e) => nodeEvent("pi-live", "offline")(e) && e.data.health_cause !== "registered, not heard from yet", 10_000, "the node offline");
    expect(offline.data.health_cause).toBe("node said offline (last will or clean stop)");
    expect((await hub.api("DELETE", "/federation/nodes/pi-live")).status).toBe(200);
    expect((await stream.next((e) => nodeEvent("pi-live")(e) && e.data.removed === true, 10_000, "the removal")).data).toEqual({ node_id: "pi-live", removed: true });
  });

  test("node events are coalesced: many changes of a node in a second make one event", async () => {
    const stream = await streamOf(hub, hub.adminToken);
    const client = await connectedNode("pi-flap");
    await stream.next(nodeEvent("pi-flap"), 10_000, "the registration");
    const before = stream.events.filter(nodeEvent("pi-flap")).length;
    for (let i = 0; i < 20; i++) {
      const state = i % 2 === 0 ? "online" : "offline";
      await client.publishAsync(nodeTopic("pi-flap", "state"), JSON.stringify({ state, bootId: "boot-1", ts: Date.now() }), { qos: 1 });
    }
    await stream.next((e) => nodeEvent("pi-flap", "offline")(e) && stream.events.filter(nodeEvent("pi-flap")).length > before, 10_000, "the flaps");
    // 20 transitions within about a second: at most two coalesced events (the window may split them), never twenty.
    expect(stream.events.filter(nodeEvent("pi-flap")).length - before).toBeLessThanOrEqual(3);
  });

  test("a decision comes on issue with its pending nodes, and again once acknowledged", async () => {
    const stream = await streamOf(hub, hub.adminToken);
    const client = await connectedNode("pi-ack");
    const issued = await hub.api("POST", "/api/federation/decisions", { type: "FREEZE", target: "pi-ack", payload: { reason: "stream test" } });
    expect(issued.status).toBe(201);
    const id = issued.body.id;
    const first = await stream.next((e) => e.event === "decision" && e.data.id === id, 10_000, "the decision");
    expect(first.data).toEqual({ id, type: "FREEZE", target: "pi-ack", issued_at: issued.body.issuedAt, acked: 0, pending: 1 });
    await client.publishAsync(nodeTopic("pi-ack", "cmd/ack"), JSON.stringify({ id, ok: true, appliedAt: Date.now() }), { qos: 1 });
    const acked = await stream.next((e) => e.event === "decision" && e.data.id === id && e.data.acked === 1, 10_000, "the ack");
    expect(acked.data.pending).toBe(0);
  });

  test("a client that goes away is dropped", async () => {
    const stream = await streamOf(hub, hub.adminToken);
    const before = logs.filter((line) => line.startsWith("live stream closed: the client went away")).length;
    stream.close();
    await eventually(() => logs.filter((line) => line.startsWith("live stream closed: the client went away")).length > before, 10_000, "the hub to drop the client");
  });

  test("an alert comes as the alerts list shows it", async () => {
    const stream = await streamOf(hub, hub.adminToken);
    hub.hub.context.alerts.raise({ severity: "high", kind: "stream_test", message: "seen live", at: Date.now() });
    const alert = await stream.next((e) => e.event === "alert" && e.data.kind === "stream_test", 10_000, "the alert");
    const listed = (await hub.api("GET", "/api/federation/alerts")).body.alerts.find((a: { kind: string }) => a.kind === "stream_test");
    expect(alert.data).toEqual(listed);
  });
});

describe("the live stream and session expiry", () => {
  let short: TestHub;
  beforeAll(async () => {
    short = await startTestHub({ env: { EDGEFED_SESSION_TTL_S: "1" } });
  });
  afterAll(() => short?.stop());

  test("the stream ends when the session that opened it expires", async () => {
    const stream = await streamOf(short, short.adminToken);
    expect(stream.status).toBe(200);
    await stream.ended; // within the session's second; the test's own timeout bounds it
    expect(stream.comments).toContain(": connected");
  });
});
