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
import { connectMosquittoDynsec, NODE_ROLE, nodeAcls, selfContainedNodeAcls, sharedNodeAcls } from "./mosquitto-dynsec.ts";
import { dynsecCommand, dynsecCommands, expectDropped as expectDroppedSeenBy, subackCodes, type DynsecAnswer } from "./mosquitto-dynsec-test-kit.ts";

const WAIT_MS = 3_000;
/**
 * The hub id of the further accesses tests open: another client id, so they
 * do not kick the shared access (whose reconnect would then bring roles up to
 * date before the access under test does).
 */
const OTHER_HUB = "test-other";

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
function expectDropped(client: MqttClient, topic: string, fenceTopic: string): Promise<void> {
  return expectDroppedSeenBy(client, topic, fenceTopic, seen);
}

function dynsec(command: Record<string, unknown>): Promise<DynsecAnswer> {
  return dynsecCommand(broker, admin, command);
}

/** ACLs as sorted "type topic" lines: the broker lists them in its own order, with a priority. */
function aclKeys(acls: { acltype: string; topic: string }[]): string[] {
  return acls.map((acl) => `${acl.acltype} ${acl.topic}`).sort();
}

async function expectSubscribeRefused(client: MqttClient, filter: string): Promise<void> {
  expect(await subackCodes(client, filter)).toEqual([128]);
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
    const other = await connectMosquittoDynsec({ url: broker.url, ...admin, hubUsername: admin.username, hubId: OTHER_HUB, timeoutMs: 2_000 });
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
    const restarted = await connectMosquittoDynsec({ url: broker.url, ...admin, hubUsername: admin.username, hubId: OTHER_HUB, timeoutMs: 2_000, log: (line) => lines.push(line) });
    try {
      await until("the role brought up to date", () => lines.length > 0);
      expect(lines).toEqual(["brought the broker roles of 1 node(s) up to date with the protocol's topics"]);
      const role = (await dynsec({ command: "getRole", rolename: "edgefed-node-n-older" })).data as { role: { acls: { acltype: string; topic: string }[] } };
      expect(aclKeys(role.role.acls)).toEqual(aclKeys(current));
      const marker = `ack-${crypto.randomUUID()}`;
      await node.publishAsync(nodeTopic("n-older", "cmd/ack"), marker, { qos: 1 });
      await until("the ack at the hub", () => seen.some((m) => m.payload === marker));
    } finally {
      await restarted.close();
    }
  });

  test("a node granted now holds the shared node role and a role of its own topics only; the shared role is brought up to date when the hub connects", async () => {
    await access.grant({ nodeId: "n-shared", username: "n-shared", password: "pw-shared" });
    const client = (await dynsec({ command: "getClient", username: "n-shared" })).data as { client: { roles: { rolename: string }[] } };
    expect(client.client.roles.map((role) => role.rolename).sort()).toEqual([NODE_ROLE, "edgefed-node-n-shared"]);
    const own = (await dynsec({ command: "getRole", rolename: "edgefed-node-n-shared" })).data as { role: { acls: { acltype: string; topic: string }[] } };
    expect(aclKeys(own.role.acls)).toEqual(aclKeys(nodeAcls("n-shared")));
    expect(own.role.acls.some((acl) => acl.topic === FLEET_POLICY_TOPIC || acl.acltype === "publishClientReceive")).toBe(false);

    // An older shared role, without the hub's state: the node may not subscribe to it until a hub connects.
    const hubState = `${ROOT}/hub/state`;
    const older = sharedNodeAcls().filter((acl) => acl.topic !== hubState);
    expect((await dynsec({ command: "modifyRole", rolename: NODE_ROLE, acls: older })).error).toBeUndefined();
    const node = await connect("n-shared", "pw-shared");
    await expectSubscribeRefused(node, hubState);
    const restarted = await connectMosquittoDynsec({ url: broker.url, ...admin, hubUsername: admin.username, hubId: OTHER_HUB, timeoutMs: 2_000 });
    try {
      const shared = (await dynsec({ command: "getRole", rolename: NODE_ROLE })).data as { role: { acls: { acltype: string; topic: string }[] } };
      expect(aclKeys(shared.role.acls)).toEqual(aclKeys(sharedNodeAcls()));
      expect(await subackCodes(node, hubState)).toEqual([1]);
      expect(node.connected).toBe(true); // modifyRole kicks nobody
    } finally {
      await restarted.close();
    }
  });

  test("a node granted by an older hub (one self-contained role) keeps working, apart from the others, kept up to date in its shape; a new password and a revoke work", async () => {
    const legacy = "n-legacy";
    const rolename = `edgefed-node-${legacy}`;
    const older = selfContainedNodeAcls(legacy).filter((acl) => acl.topic !== nodeTopic(legacy, "cmd/ack"));
    expect((await dynsec({ command: "createRole", rolename, acls: older })).error).toBeUndefined();
    expect((await dynsec({ command: "createClient", username: legacy, password: "pw-legacy", clientid: legacy, roles: [{ rolename }] })).error).toBeUndefined();
    await access.grant({ nodeId: "n-now", username: "n-now", password: "pw-now" });
    const node = await connect(legacy, "pw-legacy");
    const now = await connect("n-now", "pw-now");
    expect(await subackCodes(node, nodeTopic(legacy, "cmd"))).toEqual([1]);
    expect(await subackCodes(node, FLEET_POLICY_TOPIC)).toEqual([1]);
    // Neither node reaches the other's topics, whichever scheme granted it.
    await expectSubscribeRefused(node, nodeTopic("n-now", "cmd"));
    await expectSubscribeRefused(now, nodeTopic(legacy, "cmd"));
    await expectDropped(node, nodeTopic("n-now", "heartbeat"), nodeTopic(legacy, "heartbeat"));
    await expectDropped(now, nodeTopic(legacy, "heartbeat"), nodeTopic("n-now", "heartbeat"));

    const lines: string[] = [];
    const restarted = await connectMosquittoDynsec({ url: broker.url, ...admin, hubUsername: admin.username, hubId: OTHER_HUB, timeoutMs: 2_000, log: (line) => lines.push(line) });
    try {
      await until("the role brought up to date", () => lines.length > 0);
      expect(lines).toEqual(["brought the broker roles of 1 node(s) up to date with the protocol's topics"]);
      const role = (await dynsec({ command: "getRole", rolename })).data as { role: { acls: { acltype: string; topic: string }[] } };
      expect(aclKeys(role.role.acls)).toEqual(aclKeys(selfContainedNodeAcls(legacy)));
    } finally {
      await restarted.close();
    }
    const marker = `ack-${crypto.randomUUID()}`;
    await node.publishAsync(nodeTopic(legacy, "cmd/ack"), marker, { qos: 1 });
    await until("the legacy node's ack at the hub", () => seen.some((m) => m.payload === marker));

    const nodeCloses = closes(node);
    await access.grant({ nodeId: legacy, username: legacy, password: "pw-legacy-2" });
    expect(await nodeCloses()).toBe(true);
    expect(await connackError(legacy, "pw-legacy")).toBe(5);
    const again = await connect(legacy, "pw-legacy-2");
    const againCloses = closes(again);
    await access.revoke(legacy);
    expect(await againCloses()).toBe(true);
    expect(await connackError(legacy, "pw-legacy-2")).toBe(5);
    expect((await dynsec({ command: "getRole", rolename })).error).toBe("Role not found");
  });

  test("a grant asked while the hub brings many stale node roles up to date goes before the rest of them, not after the whole fleet", async () => {
    const stale = Array.from({ length: 30 }, (_, i) => `n-stale-${i}`);
    const created = await dynsecCommands(broker, admin, stale.map((nodeId) => ({
      command: "createRole",
      rolename: `edgefed-node-${nodeId}`,
      acls: nodeAcls(nodeId).filter((acl) => acl.topic !== nodeTopic(nodeId, "cmd/ack")),
    })));
    expect(created.map((answer) => answer.error)).toEqual(stale.map(() => undefined));
    const events: string[] = [];
    const restarted = await connectMosquittoDynsec({ url: broker.url, ...admin, hubUsername: admin.username, hubId: OTHER_HUB, timeoutMs: 2_000, log: (line) => events.push(line) });
    try {
      await restarted.grant({ nodeId: "n-meanwhile", username: "n-meanwhile", password: "pw-meanwhile" });
      events.push("granted");
      await until("the roles brought up to date", () => events.length === 2);
      expect(events).toEqual(["granted", `brought the broker roles of ${stale.length} node(s) up to date with the protocol's topics`]);
    } finally {
      await restarted.close();
      await dynsecCommands(broker, admin, stale.map((nodeId) => ({ command: "deleteRole", rolename: `edgefed-node-${nodeId}` })));
    }
  });

  test("close() makes it unhealthy and later calls fail", async () => {
    const other = await connectMosquittoDynsec({ url: broker.url, ...admin, hubUsername: admin.username, hubId: OTHER_HUB, timeoutMs: 2_000 });
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
