// Tests for HubMqtt's acknowledgements (hub-mqtt.ts) against a real aedes
// broker, which reports each PUBACK it gets from a subscriber: a QoS 1
// message is acknowledged only once the promise its handling returned
// resolves, in arrival order, while later messages are handled meanwhile;
// what was not acknowledged when the connection dropped is redelivered.
import { afterEach, expect, test } from "bun:test";
import { Aedes } from "aedes";
import { createServer, type AddressInfo, type Server, type Socket } from "node:net";
import mqtt from "mqtt";
import { HUB_FEATURES_TOPIC, nodeTopic } from "../../protocol/topics.ts";
import { eventually } from "../../test/support/hub-harness.ts";
import { HubMqtt, SEND_BACKLOG_BOUND_BYTES } from "./hub-mqtt.ts";

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});

async function startBroker(): Promise<{ url: string; hubAcks: number[]; hubFeatures: unknown[]; dropHub(): void; hubSocket(): Socket }> {
  const broker = await Aedes.createBroker();
  const hubAcks: number[] = [];
  const hubFeatures: unknown[] = [];
  broker.on("ack", (packet, client) => {
    if (client?.id === "edgefed-hub" && packet && "payload" in packet) hubAcks.push(Number(JSON.parse(packet.payload.toString()).seq));
  });
  broker.on("publish", (packet, client) => {
    if (client?.id === "edgefed-hub" && packet.topic === HUB_FEATURES_TOPIC && packet.retain) hubFeatures.push(JSON.parse(packet.payload.toString()));
  });
  const server: Server = createServer((socket) => broker.handle(socket));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  stops.push(async () => {
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const clients = (broker as unknown as { clients: Record<string, { conn: Socket }> }).clients;
  return {
    url: `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hubAcks,
    hubFeatures,
    dropHub: () => clients["edgefed-hub"]?.conn.destroy(),
    hubSocket: () => clients["edgefed-hub"]!.conn,
  };
}

/** A hub session whose verdict handling returns a commit the test settles by seq. */
async function startHubMqtt(url: string) {
  const handled: { seq: number; commit: PromiseWithResolvers<void> }[] = [];
  const hub = new HubMqtt({
    url,
    username: "hub",
    password: "hub",
    clientId: "edgefed-hub",
    onMessage(topic, payload) {
      if (!topic.endsWith("/verdicts")) return undefined;
      const commit = Promise.withResolvers<void>();
      handled.push({ seq: Number(JSON.parse(payload.toString()).seq), commit });
      return commit.promise;
    },
    retainedOnConnect: () => [],
    log: () => {},
  });
  stops.push(() => hub.close());
  await hub.waitConnected(5000);
  const commit = (seq: number) => handled.filter((h) => h.seq === seq).forEach((h) => h.commit.resolve());
  return { hub, handled, commit };
}

async function publishVerdicts(url: string, seqs: number[]): Promise<void> {
  const node = await mqtt.connectAsync(url, { clientId: "pi-1", reconnectPeriod: 0 });
  stops.push(() => node.endAsync(true));
  for (const seq of seqs) await node.publishAsync(nodeTopic("pi-1", "verdicts"), JSON.stringify({ seq }), { qos: 1 });
}

test("a QoS 1 message is acknowledged once its commit is done, in arrival order, and later ones are handled meanwhile", async () => {
  const broker = await startBroker();
  const { handled, commit } = await startHubMqtt(broker.url);
  await publishVerdicts(broker.url, [1, 2, 3]);
  // All three handled although none is committed: the stream does not wait for commits.
  await eventually(() => handled.length === 3, 5000, "three messages handled");
  commit(2);
  await Bun.sleep(50);
  expect(broker.hubAcks).toEqual([]); // 2 waits for 1
  commit(1);
  await eventually(() => broker.hubAcks.length === 2, 5000, "PUBACKs of 1 and 2");
  commit(3);
  await eventually(() => broker.hubAcks.length === 3, 5000, "PUBACK of 3");
  expect(broker.hubAcks).toEqual([1, 2, 3]);
});

test("what was not acknowledged when the connection dropped is delivered again, and acknowledged once committed", async () => {
  const broker = await startBroker();
  const { handled, commit } = await startHubMqtt(broker.url);
  await publishVerdicts(broker.url, [1, 2]);
  await eventually(() => handled.length === 2, 5000, "two messages handled");
  commit(1);
  await eventually(() => broker.hubAcks.length === 1, 5000, "PUBACK of 1");
  broker.dropHub(); // as a hub dying before 2 is committed would
  await eventually(() => handled.length === 3, 10_000, "2 redelivered after the reconnect");
  expect(handled.map((h) => h.seq)).toEqual([1, 2, 2]);
  commit(2); // the commit the redelivery waits for (the first one's PUBACK is not sent on the new connection)
  await eventually(() => broker.hubAcks.length === 2, 5000, "PUBACK of 2");
  expect(broker.hubAcks).toEqual([1, 2]);
});

test("the retained hub/features {receipts: true} is published at every connect", async () => {
  const broker = await startBroker();
  await startHubMqtt(broker.url);
  await eventually(() => broker.hubFeatures.length === 1, 5000, "hub/features at the first connect");
  broker.dropHub();
  await eventually(() => broker.hubFeatures.length === 2, 10_000, "hub/features again after the reconnect");
  expect(broker.hubFeatures).toEqual([
    { receipts: true, ts: expect.any(Number) },
    { receipts: true, ts: expect.any(Number) },
  ]);
});

test("sendIfClear() sends at QoS 0 without waiting, and refuses (queueing nothing) once the send buffer is over its bound or the connection is gone", async () => {
  const broker = await startBroker();
  const { hub } = await startHubMqtt(broker.url);
  const receiptsTopic = nodeTopic("pi-1", "receipts");
  const payload = "x".repeat(16 * 1024);
  expect(hub.sendIfClear(receiptsTopic, payload)).toBe(true);
  // A broker that stops reading the hub (a slow link): the kernel's buffers fill, then MQTT.js's.
  broker.hubSocket().pause();
  const mostEverQueued = 64 * SEND_BACKLOG_BOUND_BYTES;
  let queued = 0;
  while (hub.sendIfClear(receiptsTopic, payload)) {
    queued += payload.length;
    if (queued > mostEverQueued) throw new Error("sendIfClear never refused");
  }
  expect(hub.sendIfClear(receiptsTopic, "{}")).toBe(false);
  broker.hubSocket().resume();
  await eventually(() => hub.sendIfClear(receiptsTopic, "{}"), 10_000, "sending again once the broker reads");
  broker.dropHub();
  await eventually(() => !hub.connected, 5000, "the connection gone");
  expect(hub.sendIfClear(receiptsTopic, "{}")).toBe(false);
});
