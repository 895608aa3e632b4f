// What session-takeover.ts relies on in Mosquitto's shared subscriptions
// (measured on 2.0.11, a real broker): a member of the group whose session
// lives on while it is offline stays in the round robin; its share of QoS 1
// messages queues in its session and its share of QoS 0 messages is dropped;
// resuming the session (MQTT 5, clean: false) delivers what queued, in order,
// before a message published to itself afterwards; once it leaves the group
// and ends its session (expiry 0), every message goes to the live members.
// And across a broker restart (persistence on) a session keeps its plain
// subscriptions but not its shared ones: what is published before a replica
// subscribes again reaches no replica (docs/hub.md, known limits).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { chmodSync } from "node:fs";
import mqtt, { type MqttClient } from "mqtt";
import { tempDir } from "../../test/helpers.ts";
import { eventually } from "../../test/support/hub-harness.ts";
import { startMosquitto, type RunningMosquitto } from "../../test/support/mosquitto.ts";

const SHARED = "$share/g/exp/#";
const N = 20;
const NEVER_EXPIRES = 0xffff_ffff;

let broker: RunningMosquitto;
beforeAll(async () => {
  broker = await startMosquitto({ tls: false });
});
afterAll(async () => {
  await broker?.stop();
});

/** A member of the group, its session kept; the payloads it receives, in order. */
function member(clientId: string, url = broker.url): { client: MqttClient; got: string[]; connected: Promise<boolean> } {
  const got: string[] = [];
  const client = mqtt.connect(url, { clientId, clean: false, protocolVersion: 5, properties: { sessionExpiryInterval: NEVER_EXPIRES }, reconnectPeriod: 0 });
  // Attached before CONNACK: a resumed session's queue starts flowing at once.
  client.on("message", (_topic, payload) => got.push(payload.toString()));
  const connected = new Promise<boolean>((resolve) => client.once("connect", (connack) => resolve(connack.sessionPresent)));
  return { client, got, connected };
}

test("an offline shared member keeps its round-robin share: QoS 1 queued for it, QoS 0 dropped; resumed, it gets the queue; ended, its share goes to the others", async () => {
  const live = member("live");
  await live.connected;
  await live.client.subscribeAsync(SHARED, { qos: 1 });
  const gone = member("gone");
  await gone.connected;
  await gone.client.subscribeAsync(SHARED, { qos: 1 });
  await gone.client.endAsync(); // a clean DISCONNECT: the session (and its subscription) lives on
  const publisher = await mqtt.connectAsync(broker.url, { clientId: "publisher", protocolVersion: 5 });
  for (let i = 0; i < N; i++) await publisher.publishAsync("exp/q1", `q1-${i}`, { qos: 1 });
  for (let i = 0; i < N; i++) await publisher.publishAsync("exp/q0", `q0-${i}`, { qos: 0 });
  const quarter = (got: string[], prefix: string) => got.filter((m) => m.startsWith(prefix)).length;
  await eventually(() => quarter(live.got, "q1-") === N / 2 && quarter(live.got, "q0-") === N / 2, 5000, () => `the live member's half (got ${live.got.length})`);

  const resumed = member("gone");
  expect(await resumed.connected).toBe(true);
  await resumed.client.subscribeAsync("exp/marker/gone", { qos: 1 });
  await resumed.client.publishAsync("exp/marker/gone", "marker", { qos: 1 });
  await eventually(() => resumed.got.includes("marker"), 5000, "the marker after the queue");
  const beforeMarker = resumed.got.slice(0, resumed.got.indexOf("marker"));
  expect(quarter(beforeMarker, "q1-")).toBe(N / 2); // its QoS 1 share was queued
  expect(quarter(beforeMarker, "q0-")).toBe(0); // its QoS 0 share was dropped
  expect(new Set([...live.got, ...beforeMarker].filter((m) => m.startsWith("q1-"))).size).toBe(N);

  await resumed.client.unsubscribeAsync(SHARED);
  await resumed.client.endAsync(false, { properties: { sessionExpiryInterval: 0 } });
  live.got.length = 0;
  for (let i = 0; i < N; i++) await publisher.publishAsync("exp/q1", `after-${i}`, { qos: 1 });
  await eventually(() => live.got.length === N, 5000, () => `every later message at the live member (got ${live.got.length})`);
  const probe = member("gone");
  expect(await probe.connected).toBe(false); // the session is gone
  await probe.client.endAsync(false, { properties: { sessionExpiryInterval: 0 } });
  await Promise.all([live.client.endAsync(), publisher.endAsync()]);
}, 20_000);

test("across a broker restart with persistence a session keeps its plain subscription but loses its shared one: a message published before the member subscribes again is not queued for it", async () => {
  const persistence = tempDir("edgefed-mosquitto-persist-");
  chmodSync(persistence, 0o777); // Mosquitto drops root for its own user, which writes the database here
  const durable = await startMosquitto({ tls: false, extraConfig: ["persistence true", `persistence_location ${persistence}/`] });
  try {
    for (const [clientId, filter] of [["plain", "exp/restart"], ["shared", "$share/g/exp/restart"]] as const) {
      const subscriber = member(clientId, durable.url);
      await subscriber.connected;
      await subscriber.client.subscribeAsync(filter, { qos: 1 });
      await subscriber.client.endAsync();
    }
    await durable.stop();
    await durable.restart();
    const publisher = await mqtt.connectAsync(durable.url, { clientId: "publisher", protocolVersion: 5 });
    await publisher.publishAsync("exp/restart", "after the restart", { qos: 1 }); // acknowledged to the publisher
    const got: Record<string, string[]> = {};
    for (const clientId of ["plain", "shared"]) {
      const resumed = member(clientId, durable.url);
      expect(await resumed.connected).toBe(true); // the session itself was kept
      await resumed.client.subscribeAsync(`exp/marker/${clientId}`, { qos: 1 });
      await resumed.client.publishAsync(`exp/marker/${clientId}`, "marker", { qos: 1 });
      await eventually(() => resumed.got.includes("marker"), 5000, `${clientId}: the marker`);
      got[clientId] = resumed.got.slice(0, resumed.got.indexOf("marker"));
      await resumed.client.endAsync(false, { properties: { sessionExpiryInterval: 0 } });
    }
    expect(got).toEqual({ plain: ["after the restart"], shared: [] });
    await publisher.endAsync();
  } finally {
    await durable.stop();
  }
}, 20_000);
