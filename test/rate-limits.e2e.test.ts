// The hub's rate limits over real HTTP and real MQTT (issue 14, "rate limits
// return 429 and recover"): registration and login per source address (two
// loopback addresses are two clients), the admin API per token, and each
// node's MQTT publish budget on the embedded broker (over it: disconnected)
// and with Mosquitto (over it: dropped at ingest). Small settings, so a burst
// is a few requests and a refill a second; every wait is on a condition.
import { afterAll, describe, expect, test } from "bun:test";
import type { MqttClient } from "mqtt";
import { nodeTopic } from "../protocol/topics.ts";
import { heartbeat as heartbeatPayload } from "./support/node-payloads.ts";
import { removeTempDirs } from "./helpers.ts";
import { connectNode, eventually, newNode, registerBody, startTestHub, type TestHub } from "./support/hub-harness.ts";
import { requestFrom, type AnswerFrom } from "./support/http-from.ts";
import { startMosquitto, type RunningMosquitto } from "./support/mosquitto.ts";
import { parsePrometheusText, sampleValue } from "./support/prometheus-text.ts";

const started: { stop(): Promise<void> }[] = [];
afterAll(async () => {
  for (const each of started.reverse()) await each.stop();
  removeTempDirs();
});

async function hubWith(env: Record<string, string>, options: { mosquitto?: RunningMosquitto; log?: (line: string) => void } = {}): Promise<TestHub> {
  const hub = await startTestHub({ env, ...options });
  started.push(hub);
  return hub;
}

let nodes = 0;
/** One registration attempt from `source` (a loopback address), as a new node with its own key. */
function register(t: TestHub, source: string, token: string, headers: Record<string, string> = {}): Promise<AnswerFrom> {
  const body = registerBody(newNode(`rl-${++nodes}`));
  return requestFrom(source, `${t.hub.httpUrl}/federation/register`, { method: "POST", body, headers: { authorization: `Bearer ${token}`, ...headers } });
}

async function rateLimited(t: TestHub, limit: string): Promise<number> {
  const response = await t.fetch(`/metrics`, { headers: { authorization: `Bearer ${t.adminToken}` } });
  return sampleValue(parsePrometheusText(await response.text()), "edgefed_rate_limited_total", { limit });
}

/** A 429 as the limits answer it: Retry-After in whole seconds, {error: "rate_limited", detail}. */
function expectRateLimited(answer: AnswerFrom): void {
  expect(answer.status).toBe(429);
  expect(answer.body).toEqual({ error: "rate_limited", detail: expect.stringMatching(/^too many .+; try again in \d+ s$/) });
  expect(String(answer.headers["retry-after"])).toMatch(/^[1-9]\d*$/);
}

/** Attempts until one is refused (at most `most`): the statuses before it, then the refusal. */
async function untilRefused(attempt: () => Promise<AnswerFrom>, most: number): Promise<{ before: number[]; refusal: AnswerFrom }> {
  const before: number[] = [];
  for (let i = 0; i < most; i++) {
    const answer = await attempt();
    if (answer.status === 429) return { before, refusal: answer };
    before.push(answer.status);
  }
  throw new Error(`no 429 in ${most} attempts: ${before.join(", ")}`);
}

describe("HTTP rate limits", () => {
  // Two at once, then one a second: the third attempt in a row is refused unless a second passed.
  const SMALL = { burst: "2", perS: "1" };

  test("registration: 429 with Retry-After past the burst, another address unaffected, recovered after the refill, counted in /metrics", async () => {
    const t = await hubWith({ EDGEFED_RATE_REGISTER_BURST: SMALL.burst, EDGEFED_RATE_REGISTER_PER_S: SMALL.perS });
    const token = t.enrollmentToken();
    const { before, refusal } = await untilRefused(() => register(t, "127.0.0.1", token), 5);
    expect(before.slice(0, 2)).toEqual([201, 201]);
    expectRateLimited(refusal);
    // Without a trusted proxy a client cannot pick its own bucket with X-Forwarded-For.
    expect((await register(t, "127.0.0.1", token, { "x-forwarded-for": "203.0.113.9" })).status).toBe(429);
    // Another source address has a bucket of its own.
    expect((await register(t, "127.0.0.2", token)).status).toBe(201);
    // Refused attempts spend nothing: the bucket refills and registration works again.
    await eventually(async () => (await register(t, "127.0.0.1", token)).status === 201, 10_000, "a registration accepted after the refill");
    expect(await rateLimited(t, "register")).toBeGreaterThanOrEqual(2);
  });

  test("registration behind a trusted proxy: each forwarded client has its own bucket", async () => {
    const t = await hubWith({ EDGEFED_RATE_REGISTER_BURST: "1", EDGEFED_RATE_REGISTER_PER_S: "0.01", EDGEFED_TRUSTED_PROXIES: "127.0.0.1" });
    const token = t.enrollmentToken();
    const viaProxy = (client: string) => register(t, "127.0.0.1", token, { "x-forwarded-for": `${client}, 127.0.0.1` });
    expect((await viaProxy("203.0.113.7")).status).toBe(201);
    expectRateLimited(await viaProxy("203.0.113.7"));
    expect((await viaProxy("203.0.113.8")).status).toBe(201);
    // Not from a trusted proxy: the header is not believed; 127.0.0.2 is the client.
    expect((await register(t, "127.0.0.2", token, { "x-forwarded-for": "203.0.113.7" })).status).toBe(201);
    expectRateLimited(await register(t, "127.0.0.2", token, { "x-forwarded-for": "203.0.113.99" }));
  });

  test("login (POST /api/session): refused attempts limited per source address; a good login does not count", async () => {
    const t = await hubWith({ EDGEFED_RATE_LOGIN_BURST: "2", EDGEFED_RATE_LOGIN_PER_S: "0.01" });
    const login = (source: string, token: string) => requestFrom(source, `${t.hub.httpUrl}/api/session`, { method: "POST", body: { token } });
    for (let i = 0; i < 3; i++) expect((await login("127.0.0.1", t.adminToken)).status).toBe(200);
    expect((await login("127.0.0.1", "not-a-token")).status).toBe(401);
    expect((await login("127.0.0.1", "not-a-token")).status).toBe(401);
    expectRateLimited(await login("127.0.0.1", "not-a-token"));
    expectRateLimited(await login("127.0.0.1", t.adminToken)); // spent: the good token waits too
    expect((await login("127.0.0.2", "not-a-token")).status).toBe(401);
    expect(await rateLimited(t, "login")).toBe(2);
  });

  test("admin API: limited per token, after the token is checked", async () => {
    const t = await hubWith({ EDGEFED_RATE_ADMIN_BURST: SMALL.burst, EDGEFED_RATE_ADMIN_PER_S: SMALL.perS });
    const read = (token = t.adminToken) => requestFrom("127.0.0.1", `${t.hub.httpUrl}/federation/nodes`, { headers: { authorization: `Bearer ${token}` } });
    const { before, refusal } = await untilRefused(read, 5);
    expect(before.slice(0, 2)).toEqual([200, 200]);
    expectRateLimited(refusal);
    expect(refusal.body.detail).toContain("API requests with this token or session");
    // A wrong token is refused as such, not rate limited: it never reaches a bucket.
    expect((await read("wrong-token-0123456789abcdefgh")).status).toBe(401);
    await eventually(async () => (await read()).status === 200, 10_000, "an admin read accepted after the refill");
    expect(await rateLimited(t, "admin")).toBeGreaterThanOrEqual(1);
  });
});

/** Registers a node and connects it to the hub's broker. */
async function onlineNode(t: TestHub, name: string): Promise<{ nodeId: string; client: MqttClient }> {
  const node = newNode(name);
  const response = await t.api("POST", "/federation/register", registerBody(node), t.enrollmentToken());
  expect(response.status).toBe(201);
  const client = await connectNode(response.body.mqtt);
  started.push({ stop: () => client.endAsync() });
  return { nodeId: node.nodeId, client };
}

async function lastHeartbeatSeq(t: TestHub, nodeId: string): Promise<number | undefined> {
  return (await t.api("GET", `/federation/nodes/${nodeId}`)).body.heartbeat?.seq;
}

const FLOOD = 300;
const BUDGET = { EDGEFED_RATE_MQTT_PUBLISH_BURST: "20", EDGEFED_RATE_MQTT_PUBLISH_PER_S: "5" };

describe("MQTT publish budget", () => {
  test("embedded broker: a node flooding is disconnected, logged once and counted; the hub and other nodes carry on", async () => {
    const lines: string[] = [];
    const t = await hubWith(BUDGET, { log: (line) => lines.push(line) });
    const flooder = await onlineNode(t, "rl-flooder");
    const neighbour = await onlineNode(t, "rl-neighbour");
    const closed = new Promise<void>((resolve) => flooder.client.once("close", () => resolve()));
    for (let seq = 0; seq < FLOOD; seq++) flooder.client.publish(nodeTopic(flooder.nodeId, "heartbeat"), heartbeatPayload(seq), { qos: 0 });
    await closed;
    expect(flooder.client.connected).toBe(false);

    await neighbour.client.publishAsync(nodeTopic(neighbour.nodeId, "heartbeat"), heartbeatPayload(7), { qos: 1 });
    await eventually(async () => (await lastHeartbeatSeq(t, neighbour.nodeId)) === 7, 5000, "the neighbour's heartbeat applied");
    expect((await t.api("GET", "/health")).status).toBe(200);
    expect(await lastHeartbeatSeq(t, flooder.nodeId)).toBeLessThan(FLOOD - 1);
    expect(await rateLimited(t, "mqtt_publish")).toBeGreaterThanOrEqual(1);
    expect(lines.filter((line) => line.includes("over its MQTT publish budget"))).toEqual([expect.stringContaining(`node ${flooder.nodeId}`)]);
  });

  test("Mosquitto: a node's messages over its budget are dropped at ingest and counted; other nodes carry on", async () => {
    const mosquitto = await startMosquitto({ dynsec: true });
    started.push(mosquitto);
    const lines: string[] = [];
    const t = await hubWith(BUDGET, { mosquitto, log: (line) => lines.push(line) });
    const flooder = await onlineNode(t, "rl-flooder");
    const neighbour = await onlineNode(t, "rl-neighbour");
    for (let seq = 0; seq < FLOOD; seq++) flooder.client.publish(nodeTopic(flooder.nodeId, "heartbeat"), heartbeatPayload(seq), { qos: 0 });
    await eventually(async () => (await rateLimited(t, "mqtt_ingest")) > 0, 10_000, "messages over the budget counted");
    expect(t.hub.ingest.stats().dropped_by_reason["over publish budget"]).toBeGreaterThan(0);

    await neighbour.client.publishAsync(nodeTopic(neighbour.nodeId, "heartbeat"), heartbeatPayload(7), { qos: 1 });
    await eventually(async () => (await lastHeartbeatSeq(t, neighbour.nodeId)) === 7, 5000, "the neighbour's heartbeat applied");
    expect(lines.filter((line) => line.includes("over its MQTT publish budget"))).toEqual([expect.stringContaining(`node ${flooder.nodeId}`)]);
  });
});
