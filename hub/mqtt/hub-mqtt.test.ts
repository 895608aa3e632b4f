// Tests for HubMqtt's acknowledgements (hub-mqtt.ts) against a real aedes
// broker, which reports each PUBACK it gets from a subscriber: a QoS 1
// message is acknowledged only once the promise its handling returned
// resolves, in arrival order, while later messages are handled meanwhile;
// what was not acknowledged when the connection dropped is redelivered.
import { afterEach, expect, test } from "bun:test";
import { Aedes } from "aedes";
import { createServer, type AddressInfo, type Server } from "node:net";
import mqtt from "mqtt";
import { nodeTopic } from "../../protocol/topics.ts";
import { eventually } from "../../test/support/hub-harness.ts";
import { HubMqtt } from "./hub-mqtt.ts";

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});

async function startBroker(): Promise<{ url: string; hubAcks: number[]; dropHub(): void }> {
  const broker = await Aedes.createBroker();
  const hubAcks: number[] = [];
  broker.on("ack", (packet, client) => {
    if (client?.id === "edgefed-hub" && packet && "payload" in packet) hubAcks.push(Number(JSON.parse(packet.payload.toString()).seq));
  });
  const server: Server = createServer((socket) => broker.handle(socket));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  stops.push(async () => {
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const clients = (broker as unknown as { clients: Record<string, { conn: { destroy(): void } }> }).clients;
  return { url: `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`, hubAcks, dropHub: () => clients["edgefed-hub"]?.conn.destroy() };
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
