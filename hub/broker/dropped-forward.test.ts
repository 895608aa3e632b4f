// aedes with a persistent subscriber (clean: false, as the hub's own session)
// and authorizeForward dropping some of its QoS 1 messages (as the embedded
// broker drops what the hub ingested before the PUBACK): every message not
// dropped arrives, and the subscriber's connection stays up. Without
// dropped-forward.ts aedes removed another queued message for each dropped
// one, then closed the connection ("no such packet") when delivering it.
import { afterEach, expect, test } from "bun:test";
import { Aedes } from "aedes";
import memoryPersistence from "aedes-persistence";
import mqtt, { type MqttClient } from "mqtt";
import { createServer, type AddressInfo } from "node:net";
import { eventually } from "../../test/support/hub-harness.ts";
import { clearingDroppedForwardsExactly } from "./dropped-forward.ts";

const MESSAGES = 400;
const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

test("a persistent subscriber gets every QoS 1 message the broker does not drop, on one connection", async () => {
  const broker = await Aedes.createBroker({
    persistence: clearingDroppedForwardsExactly(memoryPersistence()),
    authorizeForward: (client, packet) => (client.id === "hub" && packet.topic === "t/dropped" ? null : packet),
  });
  const server = createServer((socket) => broker.handle(socket));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  closers.push(async () => {
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const url = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const connect = async (clientId: string): Promise<MqttClient> => {
    const client = await mqtt.connectAsync(url, { clientId, clean: false, reconnectPeriod: 0 });
    closers.push(() => client.endAsync(true));
    return client;
  };

  const hub = await connect("hub");
  let closes = 0;
  hub.on("close", () => closes++);
  const kept: number[] = [];
  hub.on("message", (topic, payload) => {
    if (topic === "t/kept") kept.push(Number(payload.toString()));
  });
  await hub.subscribeAsync("t/#", { qos: 1 });

  const node = await connect("node");
  // Dropped and kept interleaved, all at once: aedes queues them for the hub before it delivers any.
  await Promise.all(Array.from({ length: MESSAGES }, (_, i) => node.publishAsync(i % 2 ? "t/dropped" : "t/kept", String(i), { qos: 1 })));

  await eventually(() => kept.length >= MESSAGES / 2 || closes > 0, 10_000, () => `${kept.length} kept messages`);
  expect(closes).toBe(0);
  expect(kept.sort((a, b) => a - b)).toEqual(Array.from({ length: MESSAGES / 2 }, (_, i) => i * 2));
});
