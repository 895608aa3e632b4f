// BrokerAccess over Mosquitto's dynamic-security plugin, against a real
// Mosquitto 2.0 with real MQTT.js clients: what a granted node may and may not
// do, password changes and revocation taking effect on live sessions, and the
// hub keeping its access across a broker restart.
//
// MQTT 3.1.1 brokers drop an unauthorised PUBLISH silently, so "never arrives"
// is shown with a fence: the watcher (the hub user, subscribed to
// edgefed/v1/#) must first see a permitted message the same node sent *after*
// the forbidden one, then see nothing more for a short while.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import mqtt, { type MqttClient } from "mqtt";
import { FLEET_POLICY_TOPIC, nodeTopic, ROOT } from "../../protocol/topics.ts";
import { removeTempDirs } from "../../test/helpers.ts";
import { startMosquitto, type RunningMosquitto } from "../../test/support/mosquitto.ts";
import type { BrokerAccess } from "./broker-access.ts";
import { connectMosquittoDynsec, nodeAcls } from "./mosquitto-dynsec.ts";

const WAIT_MS = 3_000;
const QUIET_MS = 300;

let broker: RunningMosquitto;
let access: BrokerAccess;
/** The dynsec admin's login, with the CA of the broker's MQTTS listener (the test run's). */
let admin: { username: string; password: string; ca: string };
let watcher: MqttClient;
const seen: { topic: string; payload: string }[] = [];
const clients: MqttClient[] = [];

beforeAll(async () => {
  broker = await startMosquitto({ dynsec: true });
  if (!broker.admin) throw new Error("dynsec broker without admin");
  admin = { ...broker.admin, ca: broker.ca! };
  // The hub user is the dynsec admin here, as in a small deployment.
  access = await connectMosquittoDynsec({ url: broker.url, ...admin, hubUsername: admin.username, hubId: "test", timeoutMs: 5_000 });
  watcher = await mqtt.connectAsync(broker.url, { ...admin, clientId: "test-watcher", reconnectPeriod: 0 });
  watcher.on("message", (topic, payload) => seen.push({ topic, payload: payload.toString() }));
  await watcher.subscribeAsync(`${ROOT}/#`, { qos: 1 });
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.endAsync(true)));
});

afterAll(async () => {
  await watcher?.endAsync(true);
  await access?.close();
  await broker?.stop();
  removeTempDirs();
});

/** Resolves once `check` holds, polling; throws after `ms`. */
async function until(what: string, check: () => boolean, ms = WAIT_MS): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await Bun.sleep(10);
  }
}

function connect(username: string, password: string, clientId = username): Promise<MqttClient> {
  return mqtt.connectAsync(broker.url, { username, password, clientId, ca: broker.ca!, reconnectPeriod: 0, connectTimeout: WAIT_MS }).then((client) => {
    clients.push(client);
    return client;
  });
}

/** The CONNACK return code of a refused connection (5 = not authorised), or "connected". */
async function connackError(username: string, password: string, clientId = username): Promise<number | "connected"> {
  try {
    await connect(username, password, clientId);
    return "connected";
  } catch (error) {
    return (error as { code?: number }).code ?? -1;
  }
}

/** Starts watching for the client's connection to close; the returned function says whether it did within `ms`. */
function closes(client: MqttClient): (ms?: number) => Promise<boolean> {
  let closed = false;
  client.once("close", () => (closed = true));
  return (ms = WAIT_MS) => until("close", () => closed, ms).then(() => true, () => false);
}

/** Publishes on a forbidden topic, then a permitted fence; the watcher sees the fence and never the forbidden message. */
async function expectDropped(client: MqttClient, topic: string, fenceTopic: string): Promise<void> {
  const marker = `forbidden-${crypto.randomUUID()}`;
  const fence = `fence-${crypto.randomUUID()}`;
  await client.publishAsync(topic, marker, { qos: 1 }); // 3.1.1: PUBACK even when refused
  await client.publishAsync(fenceTopic, fence, { qos: 1 });
  await until(`fence on ${fenceTopic}`, () => seen.some((m) => m.payload === fence));
  await Bun.sleep(QUIET_MS);
  expect(seen.filter((m) => m.payload === marker)).toEqual([]);
}

/** SUBACK return codes for a subscribe; MQTT.js rejects on any failure code but carries the SUBACK along. */
async function subackCodes(client: MqttClient, filter: string): Promise<number[]> {
  try {
    return (await client.subscribeAsync(filter, { qos: 1 })).map((grant) => grant.qos);
  } catch (error) {
    const granted = (error as { packet?: { granted?: unknown } }).packet?.granted;
    if (!Array.isArray(granted)) throw error;
    return granted.map(Number);
  }
}

async function expectSubscribeRefused(client: MqttClient, filter: string): Promise<void> {
  expect(await subackCodes(client, filter)).toEqual([128]);
}

/** Sends one dynamic-security command on a throwaway admin connection and returns its answer. */
type DynsecAnswer = { command?: string; error?: string; data?: unknown; correlationData?: string };

async function dynsec(command: Record<string, unknown>): Promise<DynsecAnswer> {
  const client = await connect(admin.username, admin.password, `test-dynsec-${crypto.randomUUID()}`);
  const correlationData = crypto.randomUUID();
  let answer: DynsecAnswer | undefined;
  client.on("message", (_topic, payload) => {
    const responses = (JSON.parse(payload.toString()) as { responses: DynsecAnswer[] }).responses;
    answer ??= responses.find((r) => r.correlationData === correlationData);
  });
  await client.subscribeAsync("$CONTROL/dynamic-security/v1/response", { qos: 1 });
  await client.publishAsync("$CONTROL/dynamic-security/v1", JSON.stringify({ commands: [{ ...command, correlationData }] }), { qos: 1 });
  await until(`answer to ${String(command.command)}`, () => answer !== undefined);
  return answer ?? {};
}

describe("connectMosquittoDynsec", () => {
  test("a granted node connects as itself, publishes its heartbeat and reads its cmd from the hub", async () => {
    await access.grant({ nodeId: "n-ok", username: "n-ok", password: "pw-ok-1" });
    const node = await connect("n-ok", "pw-ok-1");
    const cmds: string[] = [];
    node.on("message", (topic, payload) => cmds.push(`${topic} ${payload.toString()}`));

    await node.publishAsync(nodeTopic("n-ok", "heartbeat"), '{"seq":1}', { qos: 0 });
    await until("heartbeat at the hub", () => seen.some((m) => m.topic === nodeTopic("n-ok", "heartbeat") && m.payload === '{"seq":1}'));

    const granted = await node.subscribeAsync([nodeTopic("n-ok", "cmd"), nodeTopic("n-ok", "policy"), FLEET_POLICY_TOPIC], { qos: 1 });
    expect(granted.map((g) => g.qos)).toEqual([1, 1, 1]);
    await watcher.publishAsync(nodeTopic("n-ok", "cmd"), '{"id":"c1"}', { qos: 1 });
    await until("cmd at the node", () => cmds.length > 0);
    expect(cmds).toEqual([`${nodeTopic("n-ok", "cmd")} {"id":"c1"}`]);
  });

  test("a wrong password, a wrong client id and an unknown user are refused", async () => {
    await access.grant({ nodeId: "n-auth", username: "n-auth", password: "pw-auth" });
    expect(await connackError("n-auth", "wrong")).toBe(5);
    expect(await connackError("n-auth", "pw-auth", "n-other")).toBe(5);
    expect(await connackError("n-nobody", "pw-auth")).toBe(5);
    expect(await connackError("n-auth", "pw-auth")).toBe("connected");
  });

  test("a second grant replaces the password: the old one is refused and its live session is dropped", async () => {
    await access.grant({ nodeId: "n-rot", username: "n-rot", password: "pw-old" });
    const old = await connect("n-rot", "pw-old");
    const oldCloses = closes(old);

    await access.grant({ nodeId: "n-rot", username: "n-rot", password: "pw-new" });
    expect(await oldCloses()).toBe(true);
    expect(await connackError("n-rot", "pw-old")).toBe(5);
    const fresh = await connect("n-rot", "pw-new");
    expect(fresh.connected).toBe(true);
    await fresh.publishAsync(nodeTopic("n-rot", "state"), "online-new", { qos: 1 });
    await until("state from the new session", () => seen.some((m) => m.payload === "online-new"));
  });

  test("a node cannot publish on another node's topics, on its own cmd or outside its subtree", async () => {
    await access.grant({ nodeId: "n-a", username: "n-a", password: "pw-a" });
    await access.grant({ nodeId: "n-b", username: "n-b", password: "pw-b" });
    const a = await connect("n-a", "pw-a");
    const fence = nodeTopic("n-a", "heartbeat");
    await expectDropped(a, nodeTopic("n-b", "heartbeat"), fence);
    await expectDropped(a, nodeTopic("n-b", "state"), fence);
    await expectDropped(a, nodeTopic("n-a", "cmd"), fence);
    await expectDropped(a, nodeTopic("n-a", "policy"), fence);
    await expectDropped(a, FLEET_POLICY_TOPIC, fence);
    await expectDropped(a, `${ROOT}/hub/state`, fence);
    expect(a.connected).toBe(true);
  });

  test("a node cannot subscribe to another node's cmd, to wildcards or to what it publishes", async () => {
    await access.grant({ nodeId: "n-s", username: "n-s", password: "pw-s" });
    await access.grant({ nodeId: "n-t", username: "n-t", password: "pw-t" });
    const node = await connect("n-s", "pw-s");
    await expectSubscribeRefused(node, nodeTopic("n-t", "cmd"));
    await expectSubscribeRefused(node, `${ROOT}/#`);
    await expectSubscribeRefused(node, `${ROOT}/nodes/+/cmd`);
    await expectSubscribeRefused(node, `${ROOT}/nodes/n-s/#`);
    await expectSubscribeRefused(node, nodeTopic("n-t", "heartbeat"));
    await expectSubscribeRefused(node, "#");
    expect(await subackCodes(node, nodeTopic("n-s", "cmd"))).toEqual([1]);
    expect(await subackCodes(node, `${ROOT}/hub/state`)).toEqual([1]);
  });

  test("revoke drops a live session and refuses reconnection; revoking twice or an unknown node is fine", async () => {
    await access.grant({ nodeId: "n-rev", username: "n-rev", password: "pw-rev" });
    const node = await connect("n-rev", "pw-rev");
    const nodeCloses = closes(node);
    await access.revoke("n-rev");
    expect(await nodeCloses()).toBe(true);
    expect(await connackError("n-rev", "pw-rev")).toBe(5);
    await access.revoke("n-rev");
    await access.revoke("n-never-granted");

    // Granting again after a revoke works from scratch.
    await access.grant({ nodeId: "n-rev", username: "n-rev", password: "pw-rev-2" });
    expect(await connackError("n-rev", "pw-rev-2")).toBe("connected");
  });

  test("the hub user may publish on any node's cmd", async () => {
    const hub = await connect(admin.username, admin.password, "edgefed-hub-test");
    await hub.publishAsync(`${ROOT}/nodes/x/cmd`, "hub-cmd-x", { qos: 1 });
    await until("the hub's cmd at the watcher", () => seen.some((m) => m.topic === `${ROOT}/nodes/x/cmd` && m.payload === "hub-cmd-x"));
  });

  test("refuses node ids that are not node ids or that would be the hub's own accounts", async () => {
    await expect(access.grant({ nodeId: admin.username, username: admin.username, password: "x" })).rejects.toThrow(/reserved/);
    await expect(access.grant({ nodeId: "edgefed-hub", username: "edgefed-hub", password: "x" })).rejects.toThrow(/reserved/);
    await expect(access.grant({ nodeId: "Bad/Id", username: "Bad/Id", password: "x" })).rejects.toThrow(/not a node id/);
    await expect(access.grant({ nodeId: "n-u", username: "someone-else", password: "x" })).rejects.toThrow(/username/);
    await expect(access.revoke(admin.username)).rejects.toThrow(/reserved/);
    // The admin still works after all that.
    expect(await connackError(admin.username, admin.password, "admin-check")).toBe("connected");
    expect(access.healthy).toBe(true);
  });

  test("after a broker restart the hub reconnects, its grants survive and new grants work", async () => {
    await access.grant({ nodeId: "n-boot", username: "n-boot", password: "pw-boot" });
    await broker.stop();
    await until("unhealthy", () => !access.healthy);
    await expect(access.grant({ nodeId: "n-down", username: "n-down", password: "pw-down" })).rejects.toThrow();
    await broker.restart();
    await until("healthy again", () => access.healthy, 10_000);

    expect(await connackError("n-boot", "pw-boot")).toBe("connected");
    await access.grant({ nodeId: "n-after", username: "n-after", password: "pw-after" });
    expect(await connackError("n-after", "pw-after")).toBe("connected");
    // The watcher was cut off by the restart; bring it back for any later test.
    await watcher.endAsync(true);
    watcher = await mqtt.connectAsync(broker.url, { ...admin, clientId: "test-watcher", reconnectPeriod: 0 });
    watcher.on("message", (topic, payload) => seen.push({ topic, payload: payload.toString() }));
    await watcher.subscribeAsync(`${ROOT}/#`, { qos: 1 });
  }, 30_000);

  test("setting up restores deny-by-default for publishing and subscribing", async () => {
    const opened = [
      { acltype: "publishClientSend", allow: true },
      { acltype: "subscribe", allow: true },
    ];
    expect((await dynsec({ command: "setDefaultACLAccess", acls: opened })).error).toBeUndefined();
    expect((await dynsec({ command: "getDefaultACLAccess" })).data).toMatchObject({ acls: [{ allow: true }, { allow: true }, { allow: true }, { allow: true }] });
    const other = await connectMosquittoDynsec({ url: broker.url, ...admin, hubUsername: admin.username, hubId: "test", timeoutMs: 2_000 });
    try {
      const answer = await dynsec({ command: "getDefaultACLAccess" });
      const acls = (answer.data as { acls: { acltype: string; allow: boolean }[] }).acls;
      expect(acls.filter((acl) => acl.acltype === "publishClientSend" || acl.acltype === "subscribe")).toEqual([
        { acltype: "publishClientSend", allow: false },
        { acltype: "subscribe", allow: false },
      ]);
    } finally {
      await other.close();
    }
  });

  test("a node role written by an older hub, with fewer topics, is brought up to date when the hub connects", async () => {
    await access.grant({ nodeId: "n-older", username: "n-older", password: "pw-older" });
    const current = nodeAcls("n-older");
    const older = current.filter((acl) => acl.topic !== nodeTopic("n-older", "cmd/ack"));
    expect((await dynsec({ command: "modifyRole", rolename: "edgefed-node-n-older", acls: older })).error).toBeUndefined();
    const node = await connect("n-older", "pw-older");
    await expectDropped(node, nodeTopic("n-older", "cmd/ack"), nodeTopic("n-older", "heartbeat"));

    const lines: string[] = [];
    const restarted = await connectMosquittoDynsec({ url: broker.url, ...admin, hubUsername: admin.username, hubId: "test", timeoutMs: 2_000, log: (line) => lines.push(line) });
    try {
      await until("the role brought up to date", () => lines.length > 0);
      expect(lines).toEqual(["brought the broker roles of 1 node(s) up to date with the protocol's topics"]);
      const role = (await dynsec({ command: "getRole", rolename: "edgefed-node-n-older" })).data as { role: { acls: { acltype: string; topic: string }[] } };
      expect(role.role.acls.map((acl) => `${acl.acltype} ${acl.topic}`).sort()).toEqual(current.map((acl) => `${acl.acltype} ${acl.topic}`).sort());
      const marker = `ack-${crypto.randomUUID()}`;
      await node.publishAsync(nodeTopic("n-older", "cmd/ack"), marker, { qos: 1 });
      await until("the ack at the hub", () => seen.some((m) => m.payload === marker));
    } finally {
      await restarted.close();
    }
  });

  test("close() makes it unhealthy and later calls fail", async () => {
    const other = await connectMosquittoDynsec({ url: broker.url, ...admin, hubUsername: admin.username, hubId: "test", timeoutMs: 2_000 });
    expect(other.healthy).toBe(true);
    await other.close();
    expect(other.healthy).toBe(false);
    await expect(other.grant({ nodeId: "n-closed", username: "n-closed", password: "x" })).rejects.toThrow(/closed/);
  });

  test("bad admin credentials fail within the timeout with the broker's reason", async () => {
    const started = Date.now();
    await expect(
      connectMosquittoDynsec({ url: broker.url, username: admin.username, password: "wrong", ca: admin.ca, hubUsername: admin.username, hubId: "test", timeoutMs: 1_000 }),
    ).rejects.toThrow(/not connected .* within 1000 ms: .*[Nn]ot authori[sz]ed/);
    expect(Date.now() - started).toBeLessThan(3_000);
  });
});

describe("startMosquitto without dynsec, in plaintext", () => {
  test("allows anonymous clients and comes back on the same port after stop()", async () => {
    const plain = await startMosquitto({ tls: false });
    try {
      expect(plain.admin).toBeNull();
      expect(plain.url).toBe(`mqtt://127.0.0.1:${plain.port}`);
      const client = await mqtt.connectAsync(plain.url, { reconnectPeriod: 0 });
      const closed = closes(client);
      await plain.stop();
      expect(await closed()).toBe(true);
      await client.endAsync(true);
      await plain.restart();
      const again = await mqtt.connectAsync(plain.url, { reconnectPeriod: 0 });
      expect(again.connected).toBe(true);
      await again.endAsync(true);
    } finally {
      await plain.stop();
    }
  });
});
