// A replica's MQTT session (hub-mqtt.ts with sharedSubscriptions) across a
// restart of a real Mosquitto with persistence: the broker gives the session
// back (resumed) but not its shared subscriptions (Mosquitto 2.0.11,
// hub/replicas/mosquitto-shared-sessions.test.ts), so the hub must send its
// SUBSCRIBE again; MQTT.js, which still lists those filters, would skip
// them. Node messages published after the hub is back must reach it.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { chmodSync } from "node:fs";
import mqtt from "mqtt";
import { nodeTopic } from "../../protocol/topics.ts";
import { removeTempDirs, tempDir } from "../../test/helpers.ts";
import { eventually } from "../../test/support/hub-harness.ts";
import { startMosquitto, type RunningMosquitto } from "../../test/support/mosquitto.ts";
import { HubMqtt } from "./hub-mqtt.ts";

let broker: RunningMosquitto;
beforeAll(async () => {
  const persistence = tempDir("edgefed-mosquitto-persist-");
  chmodSync(persistence, 0o777); // Mosquitto drops root for its own user, which writes its database here
  broker = await startMosquitto({ tls: false, extraConfig: ["persistence true", `persistence_location ${persistence}/`] });
});
afterAll(async () => {
  await broker?.stop();
  removeTempDirs();
});

async function publishVerdict(clientId: string, seq: number): Promise<void> {
  const node = await mqtt.connectAsync(broker.url, { clientId, reconnectPeriod: 0 });
  await node.publishAsync(nodeTopic("pi-1", "verdicts"), JSON.stringify({ seq }), { qos: 1 });
  await node.endAsync();
}

test("a replica whose session the restarted broker resumed subscribes again, and node messages reach it", async () => {
  const received: number[] = [];
  const log: string[] = [];
  const hub = new HubMqtt({
    url: broker.url,
    username: "hub",
    password: "hub",
    clientId: "edgefed-hub/a",
    sharedSubscriptions: true,
    onMessage(_topic, payload) {
      received.push(Number(JSON.parse(payload.toString()).seq));
      return undefined;
    },
    retainedOnConnect: () => [],
    log: (line) => log.push(line),
  });
  try {
    await hub.waitConnected(5_000);
    await publishVerdict("node-before", 1);
    await eventually(() => received.length === 1, 5_000, "the verdict before the restart");

    await broker.stop();
    await eventually(() => !hub.connected, 5_000, "the hub sees the broker gone");
    await broker.restart();
    await eventually(() => hub.connected, 10_000, "the hub's session set up again");
    expect(log).toContain("connected to broker (resumed session)");
    await publishVerdict("node-after", 2);
    await eventually(() => received.length === 2, 5_000, () => `the verdict after the restart (received ${received.join(", ")})`);
    expect(received).toEqual([1, 2]);
  } finally {
    await hub.close();
  }
}, 30_000);
