// The hub announces itself on edgefed/v1/hub/state: online (retained) while it
// runs, offline when it stops cleanly, and offline through its last will when
// it dies without a word (kill -9). Agents watch this to enter simulation mode.
import { afterAll, expect, test } from "bun:test";
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import mqtt from "mqtt";
import { HUB_STATE_TOPIC } from "../protocol/topics.ts";
import { BUN, REPO_ROOT, removeTempDirs, tempDir } from "./helpers.ts";
import { eventually } from "./support/hub-harness.ts";
import { startMosquitto, type RunningMosquitto } from "./support/mosquitto.ts";
import { seedTestTls } from "./support/test-tls.ts";

let mosquitto: RunningMosquitto;
const children: ChildProcess[] = [];
afterAll(async () => {
  for (const child of children) child.kill("SIGKILL");
  await mosquitto?.stop();
  removeTempDirs();
});

function startHubProcess(dataDir: string): { hub: ChildProcess; output: () => string } {
  seedTestTls(dataDir); // the certificate the test Mosquitto serves too: the hub trusts it
  const hub = spawn(BUN, [join(REPO_ROOT, "hub/main.ts")], {
    env: {
      ...process.env,
      EDGEFED_DATA_DIR: dataDir,
      EDGEFED_HTTP_HOST: "127.0.0.1",
      EDGEFED_HTTP_PORT: "0",
      EDGEFED_MQTT_URL: mosquitto.url,
      EDGEFED_MQTT_USERNAME: mosquitto.admin!.username,
      EDGEFED_MQTT_PASSWORD: mosquitto.admin!.password,
      EDGEFED_ADMIN_TOKEN: "last-will-admin-token-0123456789",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(hub);
  let output = "";
  hub.stdout!.on("data", (chunk) => (output += chunk));
  hub.stderr!.on("data", (chunk) => (output += chunk));
  return { hub, output: () => output };
}

test("hub/state: online while running, offline by last will after kill -9 and after a clean stop", async () => {
  mosquitto = await startMosquitto({ dynsec: true });
  const dataDir = tempDir("edgefed-hub-will-");
  // The first start gives the admin user the hub's role, which makes Mosquitto
  // drop that user's sessions; the watcher (same user) connects after it.
  const killed = startHubProcess(dataDir);
  await eventually(() => killed.output().includes("HTTP API on"), 15_000, "hub started");
  const watcher = await mqtt.connectAsync(mosquitto.url, { username: mosquitto.admin!.username, password: mosquitto.admin!.password, clientId: "will-watcher", ca: mosquitto.ca!, reconnectPeriod: 0 });
  let last: { state: string; ts: number } | null = null;
  watcher.on("message", (_topic, payload, packet) => {
    if (payload.length > 0) last = { ...JSON.parse(payload.toString()), retain: packet.retain };
  });
  await watcher.subscribeAsync(HUB_STATE_TOPIC, { qos: 1 });

  await eventually(() => last?.state === "online", 15_000, "hub online");
  killed.hub.kill("SIGKILL");
  await eventually(() => last?.state === "offline", 10_000, "last will: hub offline");

  const stopped = startHubProcess(dataDir);
  await eventually(() => last?.state === "online" && stopped.output().includes("HTTP API on"), 15_000, "hub up again");
  const exited = new Promise<number | null>((resolve) => stopped.hub.once("exit", (code) => resolve(code)));
  stopped.hub.kill("SIGTERM");
  expect(await exited).toBe(0);
  await eventually(() => last?.state === "offline", 10_000, "clean stop: hub offline");

  // A late subscriber sees the retained offline.
  const late = await mqtt.connectAsync(mosquitto.url, { username: mosquitto.admin!.username, password: mosquitto.admin!.password, clientId: "late-watcher", ca: mosquitto.ca!, reconnectPeriod: 0 });
  const retained = new Promise<string>((resolve) => late.once("message", (_t, payload) => resolve(payload.toString())));
  await late.subscribeAsync(HUB_STATE_TOPIC, { qos: 1 });
  expect(JSON.parse(await retained)).toMatchObject({ state: "offline" });
  await late.endAsync(true);
  await watcher.endAsync(true);
}, 60_000);
