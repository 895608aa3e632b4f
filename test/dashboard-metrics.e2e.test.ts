// A node's heartbeat metrics and verdicts in 1-minute buckets
// (GET /federation/nodes/:id/metrics) and its verdicts of the last hour in
// the fleet list, against a real hub over real HTTP and MQTT: the minute
// being heard from memory, minutes over from the registry after the flush.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { MqttClient } from "mqtt";
import { nodeTopic } from "../protocol/topics.ts";
import { MINUTE_MS } from "../hub/nodes/node-metrics.ts";
import { cleanUp } from "./helpers.ts";
import { connectNode, eventually, newNode, registerBody, startTestHub, type TestHub } from "./support/hub-harness.ts";
import { heartbeat, verdictEvent } from "./support/node-payloads.ts";

let hub: TestHub;
let client: MqttClient;

beforeAll(async () => {
  hub = await startTestHub();
  const registered = await hub.api("POST", "/federation/register", registerBody(newNode("pi-m")), hub.enrollmentToken());
  client = await connectNode(registered.body.mqtt);
});
afterAll(async () => {
  await client?.endAsync(true);
  await hub?.stop();
  await cleanUp();
});

const metrics = async (query = "") => {
  const answer = await hub.api("GET", `/federation/nodes/pi-m/metrics${query}`);
  expect(answer.status).toBe(200);
  return answer.body;
};

describe("metric buckets", () => {
  test("heartbeats and verdicts fill the minute being heard; the fleet row counts the hour's verdicts", async () => {
    await client.publishAsync(nodeTopic("pi-m", "heartbeat"), heartbeat(1, { load: [0.5, 0.4, 0.3], rss_bytes: 41_000_000, outbox_depth: 2 }), { qos: 0 });
    await client.publishAsync(nodeTopic("pi-m", "heartbeat"), heartbeat(2, { load: [0.75, 0.4, 0.3], rss_bytes: 42_000_000, outbox_depth: 5 }), { qos: 0 });
    await client.publishAsync(nodeTopic("pi-m", "verdicts"), verdictEvent(1, "PASS", []), { qos: 1 });
    await client.publishAsync(nodeTopic("pi-m", "verdicts"), verdictEvent(2, "HOLD", ["COOLDOWN_ACTIVE", "RATE_LIMIT"]), { qos: 1 });
    await client.publishAsync(nodeTopic("pi-m", "verdicts"), verdictEvent(3, "HOLD", ["COOLDOWN_ACTIVE"]), { qos: 1 });
    await client.publishAsync(nodeTopic("pi-m", "verdicts"), verdictEvent(3, "HOLD", ["COOLDOWN_ACTIVE"]), { qos: 1 }); // a redelivery: not counted again
    const body = await eventually(async () => {
      const got = await metrics();
      const last = got.buckets.at(-1);
      return last?.verdicts.HOLD === 2 && last.rss_bytes === 42_000_000 && got;
    }, 10_000, "the minute's bucket");
    expect(body.node_id).toBe("pi-m");
    expect(body.bucket_s).toBe(60);
    const bucket = body.buckets.at(-1);
    expect(bucket).toEqual({ at: expect.any(Number), load: 0.75, rss_bytes: 42_000_000, outbox_depth: 5, verdicts: { PASS: 1, HOLD: 2 }, by_reason: { COOLDOWN_ACTIVE: 2, RATE_LIMIT: 1 } });
    expect(bucket.at % MINUTE_MS).toBe(0);
    const row = (await hub.api("GET", "/federation/nodes?q=pi-m")).body.nodes[0];
    expect(row.verdicts_last_hour).toEqual({ PASS: 1, HOLD: 2 });
  });

  test("once its minute is over the bucket is written to the registry and read back from there", async () => {
    const before = (await metrics()).buckets;
    // The flush two minutes from now closes the open minute (silent a whole minute since) and writes it.
    await hub.hub.context.fleet.flush(Date.now() + 2 * MINUTE_MS);
    const stored = await hub.hub.context.store.metricBuckets.list("pi-m", 0);
    expect(stored.map((b) => b.at)).toEqual(before.map((b: { at: number }) => b.at));
    expect((await metrics()).buckets).toEqual(before);
  });

  test("hours is 1 to 24; an unknown node is 404", async () => {
    expect((await hub.api("GET", "/federation/nodes/pi-m/metrics?hours=25")).status).toBe(400);
    expect((await hub.api("GET", "/federation/nodes/pi-m/metrics?hours=0")).status).toBe(400);
    expect((await hub.api("GET", "/federation/nodes/pi-m/metrics?hours=24")).status).toBe(200);
    expect((await hub.api("GET", "/federation/nodes/pi-nobody/metrics")).status).toBe(404);
  });
});
