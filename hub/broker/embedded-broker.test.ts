// Tests for the embedded broker's ingest before acknowledgement
// (embedded-broker.ts, IngestBeforeAck): a node's QoS 1 publish on a covered
// topic gets its PUBACK only once the hub's ingest has committed it, is not
// sent to the hub's session again, still reaches a watcher, and a failed
// ingest costs the node its connection instead of a PUBACK.
import { afterEach, expect, test } from "bun:test";
import mqtt, { type MqttClient } from "mqtt";
import { nodeTopic, ROOT } from "../../protocol/topics.ts";
import { hashSecret } from "../identity/secrets.ts";
import { eventually } from "../../test/support/hub-harness.ts";
import { HUB_CLIENT_PREFIX } from "./broker-access.ts";
import { startEmbeddedBroker, WATCHER_CLIENT_PREFIX, WATCHER_USERNAME, type EmbeddedBroker } from "./embedded-broker.ts";

const NODE = "pi-1";
const NODE_PASSWORD = "node-password-0123456789";
const WATCH_TOKEN = "watch-token-0123456789";

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function setUp() {
  const ingested: { topic: string; commit: PromiseWithResolvers<void> }[] = [];
  const broker: EmbeddedBroker = await startEmbeddedBroker({
    host: "127.0.0.1",
    port: 0,
    nodes: [{ nodeId: NODE, passwordHash: hashSecret(NODE_PASSWORD) }],
    watcherPasswordHash: hashSecret(WATCH_TOKEN),
    ingestBeforeAck: {
      covers: (topic) => topic.endsWith("/verdicts"),
      ingest(topic) {
        const commit = Promise.withResolvers<void>();
        ingested.push({ topic, commit });
        return commit.promise;
      },
    },
  });
  closers.push(() => broker.close());
  const connect = async (options: mqtt.IClientOptions): Promise<MqttClient> => {
    const client = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0, ...options });
    closers.push(() => client.endAsync(true));
    return client;
  };
  const received = (client: MqttClient) => {
    const topics: string[] = [];
    client.on("message", (topic) => topics.push(topic));
    return topics;
  };
  const hub = await connect({ clientId: `${HUB_CLIENT_PREFIX}-test`, clean: false, ...broker.hubCredentials });
  const watcher = await connect({ clientId: `${WATCHER_CLIENT_PREFIX}test`, username: WATCHER_USERNAME, password: WATCH_TOKEN });
  const node = await connect({ clientId: NODE, username: NODE, password: NODE_PASSWORD });
  const toHub = received(hub);
  const toWatcher = received(watcher);
  await hub.subscribeAsync(`${ROOT}/nodes/#`, { qos: 1 });
  await watcher.subscribeAsync(`${ROOT}/nodes/#`, { qos: 0 });
  return { ingested, node, toHub, toWatcher };
}

test("a covered QoS 1 publish is acknowledged once ingest has committed it, and goes to watchers but not to the hub's session", async () => {
  const { ingested, node, toHub, toWatcher } = await setUp();
  let acknowledged = false;
  const published = node.publishAsync(nodeTopic(NODE, "verdicts"), "{}", { qos: 1 }).then(() => (acknowledged = true));
  await eventually(() => ingested.length === 1, 5000, "the hub's ingest");
  await Bun.sleep(50);
  expect(acknowledged).toBe(false);
  ingested[0]!.commit.resolve();
  await published;

  await node.publishAsync(nodeTopic(NODE, "state"), "{}", { qos: 1 }); // not covered: the ordinary path
  await eventually(() => toWatcher.length === 2, 5000, "both messages at the watcher");
  await eventually(() => toHub.length === 1, 5000, "state at the hub");
  await Bun.sleep(50);
  expect(toHub).toEqual([nodeTopic(NODE, "state")]);
  expect(ingested.map((i) => i.topic)).toEqual([nodeTopic(NODE, "verdicts")]);
});

test("a failed ingest gets no PUBACK: aedes closes the node's connection, and the message stays the node's to send again", async () => {
  const { ingested, node, toWatcher } = await setUp();
  let acknowledged = false;
  node.publishAsync(nodeTopic(NODE, "verdicts"), "{}", { qos: 1 }).then(
    () => (acknowledged = true),
    () => {},
  );
  const closed = new Promise<void>((resolve) => node.once("close", () => resolve()));
  await eventually(() => ingested.length === 1, 5000, "the hub's ingest");
  ingested[0]!.commit.reject(new Error("disk I/O error"));
  await closed;
  expect(acknowledged).toBe(false);
  expect(toWatcher).toEqual([]);
});
