// An operator watches the fleet's topics on the embedded broker with the real
// mosquitto_sub, logging in as the watcher with the watch token; the watcher
// can read everything under the protocol root, at QoS 0 in a clean session,
// and publish nothing.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import mqtt, { type MqttClient } from "mqtt";
import { WATCHER_CLIENT_PREFIX, WATCHER_USERNAME } from "../hub/broker/embedded-broker.ts";
import { nodeTopic, ROOT } from "../protocol/topics.ts";
import { removeTempDirs } from "./helpers.ts";
import { connectNode, eventually, newNode, registerBody, startTestHub, type TestHub } from "./support/hub-harness.ts";

let t: TestHub;
let node: MqttClient;
const nodeCmd: string[] = [];
const NODE = "pi-watched";

beforeAll(async () => {
  t = await startTestHub();
  const response = await t.api("POST", "/federation/register", registerBody(newNode(NODE)), t.enrollmentToken());
  expect(response.status).toBe(201);
  node = await connectNode(response.body.mqtt);
  await node.subscribeAsync(nodeTopic(NODE, "cmd"), { qos: 1 });
  node.on("message", (topic, payload) => topic.endsWith("/cmd") && nodeCmd.push(payload.toString()));
});

afterAll(async () => {
  await node?.endAsync(true);
  await t?.stop();
  removeTempDirs();
});

const port = () => new URL(t.hub.mqttUrl).port;
// Over MQTTS, trusting the hub's CA as an operator's mosquitto_sub does (--cafile).
const subArgs = (password: string, clientId: string) => ["-h", "127.0.0.1", "-p", port(), "--cafile", t.hub.tls!.caFile, "-u", WATCHER_USERNAME, "-P", password, "-i", clientId, "-v", "-t", `${ROOT}/#`];

test("mosquitto_sub with the watch token sees a node's heartbeat", async () => {
  const sub = spawn("mosquitto_sub", [...subArgs(t.watchToken, `${WATCHER_CLIENT_PREFIX}ops`), "-W", "20"], { stdio: ["ignore", "pipe", "pipe"] });
  let seen = "";
  sub.stdout.on("data", (chunk) => (seen += chunk));
  sub.stderr.on("data", (chunk) => (seen += chunk));
  try {
    await eventually(async () => {
      await node.publishAsync(nodeTopic(NODE, "heartbeat"), '{"probe":1}');
      return seen.includes(`${nodeTopic(NODE, "heartbeat")} {"probe":1}`);
    }, 15_000, () => `the heartbeat at mosquitto_sub: ${seen}`);
    expect(seen).toContain(`${ROOT}/hub/state`); // retained, delivered on subscribe
  } finally {
    sub.kill();
  }
});

/** Runs mosquitto_sub to its end, without blocking this process (the hub under test runs in it). */
function mosquittoSub(args: string[]): Promise<{ code: number | null; output: string }> {
  const sub = spawn("mosquitto_sub", args, { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  sub.stdout.on("data", (chunk) => (output += chunk));
  sub.stderr.on("data", (chunk) => (output += chunk));
  return new Promise((resolve) => sub.once("exit", (code) => resolve({ code, output })));
}

test.each([
  ["a wrong password", () => "not-the-watch-token", `${WATCHER_CLIENT_PREFIX}ops`, []],
  ["the admin token (watching grants no admin rights, and the other way round)", () => t.adminToken, `${WATCHER_CLIENT_PREFIX}ops`, []],
  ["a client id outside the watcher prefix (it could take a node's session)", () => t.watchToken, NODE, []],
  ["a persistent session (the hub would queue the fleet's traffic for it)", () => t.watchToken, `${WATCHER_CLIENT_PREFIX}ops`, ["-c"]],
])("%s is refused", async (_, password, clientId, extra) => {
  const sub = await mosquittoSub([...subArgs(password(), clientId), ...extra, "-C", "1", "-W", "5"]);
  expect(sub.output).toMatch(/not authori[sz]ed|bad user name or password/i);
  expect(sub.code).not.toBe(0);
});

test("the watcher is sent QoS 0 whatever it subscribes with: nothing waits in the hub for its acks", async () => {
  const watcher = await mqtt.connectAsync(t.hub.mqttUrl, { ca: t.hub.tls!.ca, clientId: `${WATCHER_CLIENT_PREFIX}qos`, username: WATCHER_USERNAME, password: t.watchToken, reconnectPeriod: 0 });
  const delivered: number[] = [];
  watcher.on("message", (topic, _payload, packet) => topic.endsWith("/verdicts") && delivered.push(packet.qos));
  await watcher.subscribeAsync(nodeTopic(NODE, "verdicts"), { qos: 1 });
  await node.publishAsync(nodeTopic(NODE, "verdicts"), '{"probe":2}', { qos: 1 });
  await eventually(() => delivered.length > 0, 5000, "the verdict at the watcher");
  expect(delivered).toEqual([0]);
  await watcher.endAsync(true);
});

test("the watcher cannot publish, not even to a node's cmd", async () => {
  const watcher = await mqtt.connectAsync(t.hub.mqttUrl, { ca: t.hub.tls!.ca, clientId: `${WATCHER_CLIENT_PREFIX}pub`, username: WATCHER_USERNAME, password: t.watchToken, reconnectPeriod: 0 });
  const closed = new Promise<void>((resolve) => watcher.once("close", () => resolve()));
  watcher.publish(nodeTopic(NODE, "cmd"), '{"forged":true}', { qos: 1 });
  await closed; // the embedded broker closes a client on an unauthorised publish
  // A decision from the hub is the fence: once it arrives on the node's cmd, the forged message would have too.
  const issued = await t.api("POST", "/api/federation/decisions", { type: "RESEARCH_TASK", target: NODE, payload: { task_type: "echo", description: "fence" } });
  expect(issued.status).toBe(201);
  await eventually(() => nodeCmd.some((m) => m.includes('"fence"')), 5000, "the fence decision at the node");
  expect(nodeCmd.filter((m) => m.includes("forged"))).toEqual([]);
  await watcher.endAsync(true);
});
