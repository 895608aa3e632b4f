// Two hub replicas' MQTT sessions (hub-mqtt.ts with sharedSubscriptions) on
// a real Mosquitto with dynamic security, the hub role written by
// broker/mosquitto-dynsec.ts: every node message reaches exactly one
// replica, both replicas get some. The replicas log in as a broker user of
// their own holding only the hub's role, not as the dynsec admin (whose
// role may subscribe to anything): the role must allow $share/... filters.
import { afterAll, beforeAll, expect, test } from "bun:test";
import mqtt from "mqtt";
import { nodeTopic } from "../../protocol/topics.ts";
import { removeTempDirs } from "../../test/helpers.ts";
import { eventually } from "../../test/support/hub-harness.ts";
import { startMosquitto, type RunningMosquitto } from "../../test/support/mosquitto.ts";
import { hubClientId, type BrokerAccess } from "../broker/broker-access.ts";
import { connectMosquittoDynsec } from "../broker/mosquitto-dynsec.ts";
import { HubMqtt } from "./hub-mqtt.ts";

const MESSAGES = 200;
const NODE = "pi-shared";
/** The replicas' broker user: not the dynsec admin. */
const HUB_USER = { username: "hub-replicas", password: "hub-replicas-password" };

let broker: RunningMosquitto;
let access: BrokerAccess;
const stops: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  broker = await startMosquitto({ dynsec: true });
  await createBrokerUser(HUB_USER);
  // Gives HUB_USER the hub's role, as a hub does at its start.
  access = await connectMosquittoDynsec({ url: broker.url, ...broker.admin!, ca: broker.ca!, hubUsername: HUB_USER.username, hubId: "a", timeoutMs: 5_000 });
});

afterAll(async () => {
  for (const stop of stops.reverse()) await stop();
  await access?.close();
  await broker?.stop();
  removeTempDirs();
});

/** A dynsec client without roles, created through the admin's control topic. */
async function createBrokerUser(user: { username: string; password: string }): Promise<void> {
  const admin = await mqtt.connectAsync(broker.url, { ...broker.admin!, ca: broker.ca!, clientId: "test-admin", reconnectPeriod: 0 });
  try {
    const answered = new Promise<string>((resolve) => admin.on("message", (_topic, payload) => resolve(payload.toString())));
    await admin.subscribeAsync("$CONTROL/dynamic-security/v1/response", { qos: 1 });
    await admin.publishAsync("$CONTROL/dynamic-security/v1", JSON.stringify({ commands: [{ command: "createClient", ...user }] }), { qos: 1 });
    expect(await answered).not.toContain("error");
  } finally {
    await admin.endAsync(true);
  }
}

/** A replica's MQTT session; the seqs it received, in order. */
async function replica(hubId: string, sharedSubscriptions: boolean): Promise<number[]> {
  const received: number[] = [];
  const hub = new HubMqtt({
    url: broker.url,
    ...HUB_USER,
    ca: broker.ca!,
    clientId: hubClientId("ingest", hubId),
    sharedSubscriptions,
    onMessage(topic, payload) {
      if (topic === nodeTopic(NODE, "heartbeat")) received.push(Number(JSON.parse(payload.toString()).seq));
      return Promise.resolve();
    },
    retainedOnConnect: () => [],
    log: () => {},
  });
  stops.push(() => hub.close());
  await hub.waitConnected(5_000);
  return received;
}

async function publishHeartbeats(): Promise<void> {
  await access.grant({ nodeId: NODE, username: NODE, password: "pw-shared" });
  const node = await mqtt.connectAsync(broker.url, { username: NODE, password: "pw-shared", clientId: NODE, ca: broker.ca!, reconnectPeriod: 0 });
  stops.push(() => node.endAsync(true));
  // QoS 1 and awaited: a publish the broker refused or that no replica acknowledged would not complete.
  await Promise.all(Array.from({ length: MESSAGES }, (_, i) => node.publishAsync(nodeTopic(NODE, "heartbeat"), JSON.stringify({ seq: i + 1 }), { qos: 1 })));
}

test("with shared subscriptions each node message reaches exactly one of two replicas, and both get some", async () => {
  const [a, b] = await Promise.all([replica("a", true), replica("b", true)]);
  await publishHeartbeats();
  await eventually(() => a.length + b.length >= MESSAGES || undefined, 5_000, "every heartbeat at a replica");
  const all = [...a, ...b].sort((x, y) => x - y);
  expect(all).toEqual(Array.from({ length: MESSAGES }, (_, i) => i + 1));
  expect(a.length).toBeGreaterThan(0);
  expect(b.length).toBeGreaterThan(0);
});
