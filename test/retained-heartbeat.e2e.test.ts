// A heartbeat is an event, never retained (protocol/topics.ts). A node that
// publishes one with the retain flag anyway must not make itself look alive
// later: the embedded broker refuses the flag (it closes the connection, as
// for any publish the ACL refuses); Mosquitto's roles cannot refuse it per
// topic, so the broker keeps it and hands it to the hub again when the hub
// restarts and subscribes, and the hub's ingest ignores it.
import { afterAll, describe, expect, test } from "bun:test";
import type { MqttClient } from "mqtt";
import { nodeTopic } from "../protocol/topics.ts";
import { removeTempDirs } from "./helpers.ts";
import { connectNode, eventually, newNode, registerBody, startTestHub, type TestHub } from "./support/hub-harness.ts";
import { startMosquitto, type RunningMosquitto } from "./support/mosquitto.ts";

const heartbeat = (seq: number) =>
  JSON.stringify({
    seq,
    ts: Date.now(),
    uptime_s: 1,
    load: [0, 0, 0],
    rss_bytes: 1,
    mode: "LIVE",
    connectivity: "online",
    simulated: false,
    outbox_depth: 0,
    kernel: { evaluated: 0, passed: 0, held: 0, duplicates: 0, recovered: 0 },
  });

async function heartbeatView(t: TestHub, nodeId: string): Promise<{ seq: number; count: number; last_at: number }> {
  return (await t.api("GET", `/federation/nodes/${nodeId}`)).body.heartbeat;
}

/** Resolves true once the broker acknowledged the publish, false if it closed the connection instead. */
function publishOrClose(client: MqttClient, topic: string, payload: string, options: { qos: 1; retain: boolean }): Promise<boolean> {
  const closed = new Promise<boolean>((resolve) => client.once("close", () => resolve(false)));
  return Promise.race([client.publishAsync(topic, payload, options).then(() => true), closed]);
}

describe.each(["embedded", "mosquitto"] as const)("a retained heartbeat, %s broker", (brokerKind) => {
  let mosquitto: RunningMosquitto | undefined;
  const clients: MqttClient[] = [];
  const hubs: TestHub[] = [];

  afterAll(async () => {
    for (const client of clients) await client.endAsync(true).catch(() => {});
    for (const hub of hubs) await hub.stop().catch(() => {});
    await mosquitto?.stop();
    removeTempDirs();
  });

  test("does not refresh the node's last heartbeat after a hub restart", async () => {
    if (brokerKind === "mosquitto") mosquitto = await startMosquitto({ dynsec: true });
    const first = await startTestHub({ mosquitto });
    hubs.push(first);
    const register = async (nodeId: string) => (await first.api("POST", "/federation/register", registerBody(newNode(nodeId)), first.enrollmentToken())).body.mqtt;
    const liar = await register(`liar-${brokerKind}`);
    const witness = await register(`witness-${brokerKind}`);

    const client = await connectNode(liar);
    clients.push(client);
    await client.publishAsync(nodeTopic(liar.username, "heartbeat"), heartbeat(1), { qos: 1 });
    await eventually(async () => (await heartbeatView(first, liar.username)).seq === 1, 5000, "the live heartbeat");

    const taken = await publishOrClose(client, nodeTopic(liar.username, "heartbeat"), heartbeat(2), { qos: 1, retain: true });
    if (brokerKind === "embedded") {
      expect(taken).toBe(false); // refused: the connection is closed, nothing is stored or forwarded
    } else {
      expect(taken).toBe(true); // Mosquitto stores it, and forwards it live (then it is news)
      await eventually(async () => (await heartbeatView(first, liar.username)).seq === 2, 5000, "the heartbeat forwarded live");
    }
    const before = await heartbeatView(first, liar.username);
    expect(before.count).toBe(brokerKind === "embedded" ? 1 : 2);
    await client.endAsync(true).catch(() => {});
    await first.stop();

    const second = await startTestHub({ mosquitto, dataDir: first.dataDir });
    hubs.push(second);
    // A live heartbeat from another node, after the restart: the broker hands
    // the new session its retained messages before anything published later.
    const other = await connectNode({ ...witness, url: second.hub.mqttUrl });
    clients.push(other);
    await other.publishAsync(nodeTopic(witness.username, "heartbeat"), heartbeat(1), { qos: 1 });
    await eventually(async () => (await heartbeatView(second, witness.username)).count === 1, 5000, "the witness's heartbeat");

    expect(await heartbeatView(second, liar.username)).toEqual(before);
    const dropped = second.hub.ingest.stats().dropped_by_reason;
    if (brokerKind === "mosquitto") expect(dropped).toEqual({ "retain not allowed": 1 });
    else expect(dropped).toEqual({});
  }, 30_000);
});
