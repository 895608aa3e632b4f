// The embedded broker refuses oversized packets as they are announced, before
// buffering them, whether or not the client has logged in.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import mqtt from "mqtt";
import { connect, type Socket } from "node:net";
import { nodeTopic } from "../../protocol/topics.ts";
import { hashSecret } from "../identity/secrets.ts";
import { startEmbeddedBroker, type EmbeddedBroker } from "./embedded-broker.ts";

let broker: EmbeddedBroker;
beforeAll(async () => {
  broker = await startEmbeddedBroker({ host: "127.0.0.1", port: 0, nodes: [{ nodeId: "pi-1", passwordHash: hashSecret("node-password") }], watcherPasswordHash: hashSecret("admin-token") });
});
afterAll(() => broker.close());

function rawSocket(): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(broker.port, "127.0.0.1", () => resolve(socket));
    socket.once("error", reject);
  });
}

/** Resolves true if the broker closes the socket within `ms`. */
function closedWithin(socket: Socket, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    socket.once("close", () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** MQTT remaining-length varint. */
function varint(n: number): number[] {
  const bytes: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    bytes.push(byte);
  } while (n > 0);
  return bytes;
}

describe("packet size guard", () => {
  test("a CONNECT announcing 200 MB is cut off at once, before any login", async () => {
    const socket = await rawSocket();
    const closed = closedWithin(socket, 2000);
    socket.write(Buffer.from([0x10, ...varint(200 * 1024 * 1024)]));
    expect(await closed).toBe(true);
  });

  test("the length may arrive one byte at a time", async () => {
    const socket = await rawSocket();
    const closed = closedWithin(socket, 2000);
    for (const byte of [0x10, ...varint(50 * 1024 * 1024)]) {
      socket.write(Buffer.from([byte]));
      await Bun.sleep(5);
    }
    expect(await closed).toBe(true);
  });

  test("a logged-in node is cut off by a publish over 256 KiB, not by one under it", async () => {
    const client = await mqtt.connectAsync(broker.url, { clientId: "pi-1", username: "pi-1", password: "node-password", reconnectPeriod: 0 });
    await client.publishAsync(nodeTopic("pi-1", "heartbeat"), Buffer.alloc(200 * 1024, 0x20), { qos: 1 });
    expect(client.connected).toBe(true);
    const closed = new Promise<void>((resolve) => client.once("close", () => resolve()));
    client.publish(nodeTopic("pi-1", "heartbeat"), Buffer.alloc(300 * 1024, 0x20), { qos: 0 });
    await closed;
    await client.endAsync(true);
  });
});
