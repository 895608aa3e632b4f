// The embedded broker's persistence with retained messages indexed by topic
// (retained-by-topic.ts): through a real aedes broker and MQTT.js clients, a
// subscriber gets the retained message of an exact topic and of a wildcard
// filter, the latest one after a replacement, and none once it is cleared.
// Its speed (one lookup instead of a scan per filter) is measured by
// `bun run bench scale` and `bun run loadgen`, not here.
import { afterEach, expect, test } from "bun:test";
import { Aedes } from "aedes";
import mqtt, { type MqttClient } from "mqtt";
import { createServer, type AddressInfo } from "node:net";
import { eventually } from "../../test/support/hub-harness.ts";
import { memoryPersistenceWithRetainedIndex } from "./retained-by-topic.ts";

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function startBroker(): Promise<string> {
  const broker = await Aedes.createBroker({ persistence: memoryPersistenceWithRetainedIndex() });
  const server = createServer((socket) => broker.handle(socket));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  closers.push(async () => {
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function client(url: string): Promise<MqttClient> {
  const connected = await mqtt.connectAsync(url, { reconnectPeriod: 0 });
  closers.push(() => connected.endAsync(true));
  return connected;
}

/** What a fresh subscriber to `filters` is sent as retained, by topic, once `expected` messages came (bounded wait). */
async function retainedFor(url: string, filters: string[], expected: number): Promise<Record<string, string>> {
  const subscriber = await client(url);
  const received: Record<string, string> = {};
  subscriber.on("message", (topic, payload, packet) => {
    if (packet.retain) received[topic] = payload.toString();
  });
  await subscriber.subscribeAsync(filters, { qos: 1 });
  if (expected > 0) await eventually(() => Object.keys(received).length >= expected);
  return received;
}

test("a subscriber gets the retained message of an exact topic, of a wildcard filter, the latest after a replacement, and none once cleared", async () => {
  const url = await startBroker();
  const publisher = await client(url);
  // Many topics retained, as a fleet's nodes leave them: an exact filter still gets just its own.
  for (let i = 0; i < 200; i++) await publisher.publishAsync(`edgefed/nodes/pi-${i}/state`, `online ${i}`, { qos: 1, retain: true });
  await publisher.publishAsync("edgefed/nodes/pi-7/state", "offline 7", { qos: 1, retain: true }); // replaced
  await publisher.publishAsync("edgefed/nodes/pi-8/state", "", { qos: 1, retain: true }); // cleared

  expect(await retainedFor(url, ["edgefed/nodes/pi-3/state", "edgefed/nodes/pi-7/state", "edgefed/nodes/pi-999/state"], 2)).toEqual({
    "edgefed/nodes/pi-3/state": "online 3",
    "edgefed/nodes/pi-7/state": "offline 7",
  });
  const all = await retainedFor(url, ["edgefed/nodes/+/state"], 199);
  expect(Object.keys(all)).toHaveLength(199);
  expect(all["edgefed/nodes/pi-7/state"]).toBe("offline 7");
  expect(all["edgefed/nodes/pi-8/state"]).toBeUndefined();

  // A cleared topic sends nothing: a later retained message on a topic subscribed alongside arrives alone.
  await publisher.publishAsync("edgefed/nodes/pi-9/birth", "born 9", { qos: 1, retain: true });
  expect(await retainedFor(url, ["edgefed/nodes/pi-8/state", "edgefed/nodes/pi-9/birth"], 1)).toEqual({ "edgefed/nodes/pi-9/birth": "born 9" });
});
