// The hub end to end over real HTTP and real MQTT, once with the embedded
// broker and once with a real Mosquitto (dynamic security) started here.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { MqttClient } from "mqtt";
import { DecisionMessage, DesiredPolicyMessage, MAX_ACK_RESULT_BYTES } from "../protocol/messages.ts";
import { verifyMessage } from "../protocol/signing.ts";
import { nodeTopic } from "../protocol/topics.ts";
import { removeTempDirs } from "./helpers.ts";
import { connectNode, eventually, newNode, registerBody, startTestHub, type TestHub, type TestNode } from "./support/hub-harness.ts";
import { startMosquitto, type RunningMosquitto } from "./support/mosquitto.ts";
import { birth, heartbeat, verdictEvent } from "./support/node-payloads.ts";

/** Subscribes and collects messages; returns the granted QoS per filter (128 = refused). */
async function subscribe(client: MqttClient, filter: string): Promise<number> {
  try {
    const granted = await client.subscribeAsync(filter, { qos: 1 });
    return granted[0]!.qos;
  } catch (error) {
    const refused = (error as { packet?: { granted?: (number | { qos: number })[] } }).packet?.granted?.[0]; // MQTT.js rejects on 128
    if (refused === undefined) throw error;
    return typeof refused === "number" ? refused : refused.qos;
  }
}

function collect(client: MqttClient): { topic: string; payload: string; retain: boolean }[] {
  const seen: { topic: string; payload: string; retain: boolean }[] = [];
  client.on("message", (topic, payload, packet) => seen.push({ topic, payload: payload.toString(), retain: packet.retain }));
  return seen;
}

const brokers = ["embedded", "mosquitto"] as const;

describe.each(brokers)("hub with the %s broker", (brokerKind) => {
  let mosquitto: RunningMosquitto | undefined;
  let t: TestHub;
  const clients: MqttClient[] = [];
  let counter = 0;

  async function registered(prefix = "pi"): Promise<{ node: TestNode; creds: any; token: string; hubKey: string }> {
    const node = newNode(`${prefix}-${brokerKind}-${++counter}`);
    const token = t.enrollmentToken();
    const response = await t.api("POST", "/federation/register", registerBody(node), token);
    expect(response.status).toBe(201);
    return { node, creds: response.body.mqtt, token, hubKey: response.body.hub_public_key };
  }

  async function online(creds: any): Promise<MqttClient> {
    const client = await connectNode(creds);
    clients.push(client);
    return client;
  }

  beforeAll(async () => {
    if (brokerKind === "mosquitto") mosquitto = await startMosquitto({ dynsec: true });
    t = await startTestHub({ mosquitto });
  });

  afterAll(async () => {
    for (const client of clients) await client.endAsync(true).catch(() => {});
    await t.stop();
    await mosquitto?.stop();
    removeTempDirs();
  });

  test("registration returns credentials that work on the broker, and the hub's public key", async () => {
    const node = newNode(`reg-${brokerKind}`);
    const response = await t.api("POST", "/federation/register", registerBody(node), t.enrollmentToken());
    expect(response.status).toBe(201);
    expect(response.body).toMatchObject({ status: "registered", node_id: node.nodeId, heartbeat_s: 1 });
    expect(response.body.registration_id).toMatch(/^reg_/);
    expect(response.body.hub_public_key).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(response.body.mqtt.username).toBe(node.nodeId);
    expect(response.body.mqtt.password.length).toBeGreaterThanOrEqual(40);
    const client = await online(response.body.mqtt);
    expect(client.connected).toBe(true);
  });

  test("re-registering with the same key gives 200 and fresh credentials; the old ones stop working", async () => {
    const { node, creds, token } = await registered();
    const oldSession = await online(creds);
    const closed = new Promise<void>((resolve) => oldSession.once("close", () => resolve()));
    const again = await t.api("POST", "/federation/register", registerBody(node), token);
    expect(again.status).toBe(200);
    expect(again.body.registration_id).toBeDefined();
    expect(again.body.mqtt.password).not.toBe(creds.password);
    await closed; // the session opened with the old password is dropped
    await expect(connectNode(creds)).rejects.toThrow();
    const fresh = await online(again.body.mqtt);
    expect(fresh.connected).toBe(true);
  });

  test("registration error cases: 409, 401, 400 naming the field, 413, 415", async () => {
    const { node, token } = await registered();
    const thief = { nodeId: node.nodeId, keys: newNode("x").keys };
    const taken = await t.api("POST", "/federation/register", registerBody(thief), token);
    expect(taken.status).toBe(409);
    expect(taken.body.error).toBe("node_id_taken");

    const badToken = await t.api("POST", "/federation/register", registerBody(newNode("bad-token")), "efe_not-a-token");
    expect(badToken.status).toBe(401);
    expect(badToken.body).toEqual({ error: "invalid_token", detail: expect.any(String) });
    const noToken = await t.fetch(`/federation/register`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect(noToken.status).toBe(401);

    const badArch = await t.api("POST", "/federation/register", registerBody(newNode("bad-arch"), { arch: "armv7" }, false), token);
    expect(badArch.status).toBe(400);
    expect(badArch.body.error).toBe("invalid_body");
    expect(badArch.body.detail).toStartWith("arch:");
    const badId = await t.api("POST", "/federation/register", { ...registerBody(newNode("ok"), {}, false), node_id: "Bad_ID" }, token);
    expect(badId.status).toBe(400);
    expect(badId.body.detail).toStartWith("node_id:");
    const notJson = await t.api("POST", "/federation/register", "{not json", token);
    expect(notJson.status).toBe(400);
    expect(notJson.body.error).toBe("invalid_json");

    const huge = await t.api("POST", "/federation/register", { ...registerBody(newNode("huge"), {}, false), padding: "x".repeat(70_000) }, token);
    expect(huge.status).toBe(413);
    expect(huge.body.error).toBe("payload_too_large");

    const form = await t.fetch(`/federation/register`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "text/plain" }, body: "x" });
    expect(form.status).toBe(415);
  });

  test("re-registration needs proof of the private key; a first registration may go without", async () => {
    const node = newNode(`proof-${brokerKind}`);
    const token = t.enrollmentToken();
    expect((await t.api("POST", "/federation/register", registerBody(node, {}, false), token)).status).toBe(201);
    const unsigned = await t.api("POST", "/federation/register", registerBody(node, {}, false), token);
    expect(unsigned.status).toBe(401);
    expect(unsigned.body.error).toBe("proof_required");
    const stale = await t.api("POST", "/federation/register", registerBody(node, { ts: Date.now() - 10 * 60_000 }), token);
    expect(stale.status).toBe(401);
    expect(stale.body.error).toBe("invalid_proof");
    const forged = { ...registerBody(node), version: "9.9.9" }; // changed after signing
    expect((await t.api("POST", "/federation/register", forged, token)).status).toBe(401);
    const signed = registerBody(node);
    expect((await t.api("POST", "/federation/register", signed, token)).status).toBe(200);
    const replayed = await t.api("POST", "/federation/register", signed, token); // captured and sent again
    expect(replayed.status).toBe(401);
    expect(replayed.body.detail).toContain("not newer");
  });

  test("node ids of the hub's own connections cannot be registered", async () => {
    for (const id of ["edgefed-hub", "edgefed-hub-dynsec", "edgefed-hubby"]) {
      const r = await t.api("POST", "/federation/register", registerBody(newNode(id)), t.enrollmentToken());
      expect(r.status).toBe(409);
      expect(r.body.detail).toContain("reserved");
    }
  });

  test("a DELETE racing a re-registration leaves registry, API and broker agreeing", async () => {
    for (let round = 0; round < 5; round++) {
      const { node, token } = await registered("race");
      const [removed, again] = await Promise.all([t.api("DELETE", `/federation/nodes/${node.nodeId}`), t.api("POST", "/federation/register", registerBody(node), token)]);
      expect(removed.status).toBe(200);
      const view = await t.api("GET", `/federation/nodes/${node.nodeId}`);
      // Either way the node ends up removed (410, tombstoned) and holds no working credentials.
      expect(view.status).toBe(410);
      if (again.status === 200) {
        // The re-registration ran first, then the removal: its fresh credentials must be dead.
        await expect(connectNode(again.body.mqtt)).rejects.toThrow();
      } else {
        // The removal ran first: the tombstone refuses the registration.
        expect(again.status).toBe(403);
        expect(again.body.error).toBe("node_removed");
      }
    }
  });

  test("enrollment tokens are limited in uses and lifetime; re-registration spends no use", async () => {
    const single = t.enrollmentToken({ uses: 1 });
    const first = newNode(`single-${brokerKind}`);
    expect((await t.api("POST", "/federation/register", registerBody(first), single)).status).toBe(201);
    expect((await t.api("POST", "/federation/register", registerBody(newNode(`second-${brokerKind}`)), single)).status).toBe(401); // used up
    expect((await t.api("POST", "/federation/register", registerBody(first), single)).status).toBe(200); // re-registering spends no use
    const expired = t.enrollmentToken({ ttlMs: -1000 });
    expect((await t.api("POST", "/federation/register", registerBody(newNode(`late-${brokerKind}`)), expired)).status).toBe(401);
  });

  test("birth, heartbeats and state change the registry", async () => {
    const { node, creds } = await registered();
    const client = await online(creds);
    await client.publishAsync(nodeTopic(node.nodeId, "state"), JSON.stringify({ state: "online", bootId: "boot-1", ts: Date.now() }), { qos: 1, retain: true });
    await client.publishAsync(nodeTopic(node.nodeId, "birth"), birth(node.nodeId, { capabilities: ["kernel", "gpu"] }), { qos: 1, retain: true });
    for (let seq = 0; seq < 3; seq++) await client.publishAsync(nodeTopic(node.nodeId, "heartbeat"), heartbeat(seq), { qos: 0 });
    await client.publishAsync(nodeTopic(node.nodeId, "heartbeat"), heartbeat(5), { qos: 1 }); // seq 3 and 4 lost
    const view = await eventually(async () => {
      const r = await t.api("GET", `/federation/nodes/${node.nodeId}`);
      return r.body.heartbeat?.seq === 5 && r.body;
    });
    expect(view.health.state).toBe("healthy");
    expect(view.capabilities).toEqual(["kernel", "gpu"]);
    expect(view.state).toMatchObject({ state: "online", boot_id: "boot-1", session: 1 });
    expect(view.kernel_config_hash).toBe("sha256:601c52326843c83f");
    expect(view.heartbeat).toMatchObject({ count: 4, seq_gaps: 2, load: [0.25, 0.2, 0.1], outbox_depth: 0, mode: "LIVE" });
    expect(view.transitions[0]).toMatchObject({ from: "offline", to: "healthy" });

    // A new bootId is a reboot; a higher session on the same boot a reconnect.
    await client.publishAsync(nodeTopic(node.nodeId, "birth"), birth(node.nodeId, { session: 2 }), { qos: 1, retain: true });
    await client.publishAsync(nodeTopic(node.nodeId, "birth"), birth(node.nodeId, { bootId: "boot-2", session: 1 }), { qos: 1, retain: true });
    const after = await eventually(async () => {
      const r = await t.api("GET", `/federation/nodes/${node.nodeId}`);
      return r.body.state.boot_id === "boot-2" && r.body;
    });
    expect(after.state).toMatchObject({ reconnects: 1, reboots: 1 });
  });

  test("verdict events are counted once each, by verdict and reason", async () => {
    const { node, creds } = await registered();
    const client = await online(creds);
    const topic = nodeTopic(node.nodeId, "verdicts");
    await client.publishAsync(topic, verdictEvent(1, "PASS", []), { qos: 1 });
    await client.publishAsync(topic, verdictEvent(2, "HOLD", ["EDGE_TOO_SMALL", "R_TOO_LOW"]), { qos: 1 });
    await client.publishAsync(topic, verdictEvent(2, "HOLD", ["EDGE_TOO_SMALL", "R_TOO_LOW"]), { qos: 1 }); // redelivered
    await client.publishAsync(topic, verdictEvent(4, "HOLD", ["COOLDOWN"]), { qos: 1 }); // 3 never arrived
    const view = await eventually(async () => {
      const r = await t.api("GET", `/federation/nodes/${node.nodeId}`);
      return r.body.verdicts.last_seq === 4 && r.body;
    });
    expect(view.verdicts).toEqual({
      last_seq: 4,
      by_verdict: { PASS: 1, HOLD: 2 },
      by_reason: { EDGE_TOO_SMALL: 1, R_TOO_LOW: 1, COOLDOWN: 1 },
      duplicates: 1,
      missing: 1,
    });
  });

  test("the last will marks a node offline, with the cause recorded", async () => {
    const { node, creds } = await registered();
    const client = await connectNode(creds, {
      will: { topic: nodeTopic(node.nodeId, "state"), payload: Buffer.from(JSON.stringify({ state: "offline", bootId: "b", ts: Date.now() })), qos: 1, retain: true },
    });
    await client.publishAsync(nodeTopic(node.nodeId, "heartbeat"), heartbeat(0), { qos: 1 });
    await eventually(async () => (await t.api("GET", `/federation/nodes/${node.nodeId}`)).body.health.state === "healthy");
    client.stream.destroy(); // a power cut: no DISCONNECT, so the broker publishes the will
    const view = await eventually(async () => {
      const r = await t.api("GET", `/federation/nodes/${node.nodeId}`);
      return r.body.health.state === "offline" && r.body;
    }, 10_000, "offline after last will");
    expect(view.health.cause).toContain("last will");
    expect(view.transitions[0]).toMatchObject({ from: "healthy", to: "offline" });
  });

  test("missed heartbeats make a node degraded, then unhealthy, every step recorded", async () => {
    const { node, creds } = await registered();
    const client = await online(creds);
    await client.publishAsync(nodeTopic(node.nodeId, "heartbeat"), heartbeat(0), { qos: 1 });
    const view = await eventually(async () => {
      const r = await t.api("GET", `/federation/nodes/${node.nodeId}`);
      return r.body.health.state === "unhealthy" && r.body;
    }, 8000, "unhealthy");
    expect(view.health.cause).toMatch(/3 heartbeats missed/);
    expect(view.transitions.slice(0, 3).map((x: any) => x.to)).toEqual(["unhealthy", "degraded", "healthy"]);
    const listed = await t.api("GET", "/federation/nodes?status=unhealthy&limit=1000");
    expect(listed.body.nodes.map((n: any) => n.node_id)).toContain(node.nodeId);
  });

  test("decisions reach the node signed, the desired policy is retained, and the ack is recorded", async () => {
    const { node, creds, hubKey } = await registered();
    const client = await online(creds);
    const got = collect(client);
    expect(await subscribe(client, nodeTopic(node.nodeId, "cmd"))).toBe(1);

    const issued = await t.api("POST", "/api/federation/decisions", { type: "RISK_ADJUSTMENT", target: node.nodeId, payload: { max_leverage: 3 } });
    expect(issued.status).toBe(201);
    expect(issued.body.published).toBe(true);
    const cmd = await eventually(() => got.find((m) => m.topic.endsWith("/cmd")), 5000, "cmd delivered");
    const decision = DecisionMessage.parse(JSON.parse(cmd.payload));
    expect(decision).toMatchObject({ id: issued.body.id, type: "RISK_ADJUSTMENT", target: node.nodeId, payload: { max_leverage: 3 } });
    expect(verifyMessage(decision, hubKey)).toBe(true);
    expect(verifyMessage({ ...decision, payload: { max_leverage: 30 } }, hubKey)).toBe(false);

    await subscribe(client, nodeTopic(node.nodeId, "policy"));
    const policy = await eventually(() => got.find((m) => m.topic.endsWith("/policy") && m.retain), 5000, "retained policy");
    const desired = DesiredPolicyMessage.parse(JSON.parse(policy.payload));
    expect(desired.policy).toMatchObject({ max_leverage: 3, mode: "LIVE" });
    expect(verifyMessage(desired, hubKey)).toBe(true);

    await client.publishAsync(nodeTopic(node.nodeId, "cmd/ack"), JSON.stringify({ id: decision.id, ok: true, appliedAt: Date.now() }), { qos: 1 });
    const listed = await eventually(async () => {
      const r = await t.api("GET", `/api/federation/decisions?node=${node.nodeId}`);
      return r.body.decisions[0]?.acks.length === 1 && r.body.decisions[0];
    });
    expect(listed).toMatchObject({ id: decision.id, targets: [node.nodeId], pending: [], acks: [{ node_id: node.nodeId, ok: true, error: null }] });
  });

  test("fleet decisions and the mode shortcut go to every node; bad decisions get 400/404", async () => {
    const { node, creds } = await registered();
    const client = await online(creds);
    const got = collect(client);
    await subscribe(client, nodeTopic(node.nodeId, "cmd"));
    await subscribe(client, "edgefed/v1/fleet/policy");
    const issued = await t.api("POST", "/api/federation/mode", { mode: "FREEZE", duration_s: 60, reason: "maintenance" });
    expect(issued.status).toBe(201);
    expect(issued.body.targets).toContain(node.nodeId);
    const cmd = await eventually(() => got.find((m) => m.topic.endsWith("/cmd") && JSON.parse(m.payload).id === issued.body.id));
    // duration_s is the alias of the contract's duration_minutes, which the decision carries.
    expect(JSON.parse(cmd.payload)).toMatchObject({ type: "MODE_CHANGE", target: "fleet", payload: { mode: "FREEZE", duration_minutes: 1, reason: "maintenance" } });
    const fleetPolicy = await eventually(() => got.find((m) => m.topic === "edgefed/v1/fleet/policy" && JSON.parse(m.payload).version === issued.body.seq));
    expect(JSON.parse(fleetPolicy.payload).policy.freeze).toEqual({ until: issued.body.issuedAt + 60_000, reason: "maintenance" }); // a freeze keeps its reason (issue 11)

    const bad = await t.api("POST", "/api/federation/decisions", { type: "RISK_ADJUSTMENT", target: "fleet", payload: { max_leverage: -1 } });
    expect(bad.status).toBe(400);
    expect(bad.body.detail).toContain("max_leverage");
    const badType = await t.api("POST", "/api/federation/decisions", { type: "LAUNCH_MISSILES", target: "fleet", payload: {} });
    expect(badType.status).toBe(400);
    expect(badType.body.detail).toStartWith("type:");
    const nobody = await t.api("POST", "/api/federation/decisions", { type: "OVERRIDE", target: "no-such-node", payload: {} });
    expect(nobody.status).toBe(404);
    const unauthorised = await t.api("POST", "/api/federation/decisions", { type: "OVERRIDE", target: "fleet", payload: {} }, "wrong-admin-token");
    expect(unauthorised.status).toBe(401);
  });

  test("POST /mode takes the contract's {mode, reason, duration_minutes}; duration_s is its alias, not both", async () => {
    const { node, creds } = await registered();
    const client = await online(creds);
    const got = collect(client);
    await subscribe(client, nodeTopic(node.nodeId, "cmd"));
    await subscribe(client, nodeTopic(node.nodeId, "policy"));
    const issued = await t.api("POST", "/api/federation/mode", { mode: "FREEZE", reason: "exchange outage", duration_minutes: 30, target: node.nodeId });
    expect(issued.status).toBe(201);
    expect(issued.body.payload).toEqual({ mode: "FREEZE", reason: "exchange outage", duration_minutes: 30 });
    const cmd = await eventually(() => got.find((m) => m.topic.endsWith("/cmd") && JSON.parse(m.payload).id === issued.body.id));
    expect(JSON.parse(cmd.payload).payload).toEqual({ mode: "FREEZE", reason: "exchange outage", duration_minutes: 30 });
    const policy = await eventually(() => got.find((m) => m.topic.endsWith("/policy") && JSON.parse(m.payload).version === issued.body.seq));
    expect(JSON.parse(policy.payload).policy.freeze).toEqual({ until: issued.body.issuedAt + 30 * 60_000, reason: "exchange outage" });
    const alias = await t.api("POST", "/api/federation/mode", { mode: "FREEZE", duration_s: 90, target: node.nodeId });
    expect(alias.body.payload).toEqual({ mode: "FREEZE", duration_minutes: 1.5 });

    const both = await t.api("POST", "/api/federation/mode", { mode: "FREEZE", duration_minutes: 1, duration_s: 60 });
    expect(both.status).toBe(400);
    expect(both.body.detail).toBe("duration_s: give duration_minutes or its alias duration_s, not both");
    for (const duration_minutes of [-1, "5", null]) {
      const bad = await t.api("POST", "/api/federation/mode", { mode: "PAUSED", duration_minutes });
      expect(bad.status).toBe(400);
      expect(bad.body.detail).toStartWith("duration_minutes: ");
    }
  });

  test("status keeps its fields and adds the contract's roles, total_decisions and last_update", async () => {
    const { node } = await registered();
    const issued = await t.api("POST", "/api/federation/decisions", { type: "RISK_ADJUSTMENT", target: node.nodeId, payload: { max_leverage: 4 } });
    const status = (await t.api("GET", "/api/federation/status")).body;
    expect(status).toMatchObject({ roles: {}, broker: "up", nodes: { total: expect.any(Number) }, ingest: expect.any(Object), uptime_s: expect.any(Number) });
    expect(status.total_decisions).toBe(status.decisions.total);
    expect(status.total_decisions).toBeGreaterThanOrEqual(issued.body.seq);
    expect(status.last_update).toBe(new Date(issued.body.issuedAt).toISOString());
  });

  test("an OVERRIDE republishes the desired policies its decision reached, folded without it, at its own seq; both ends are linked", async () => {
    const { node, creds } = await registered();
    const client = await online(creds);
    const got = collect(client);
    await subscribe(client, nodeTopic(node.nodeId, "policy"));
    const issue = async (type: string, payload: Record<string, unknown>, target = node.nodeId) => {
      const r = await t.api("POST", "/api/federation/decisions", { type, target, payload });
      expect(r.status).toBe(201);
      return r.body;
    };
    const retained = (version: number) => eventually(() => got.find((m) => m.topic.endsWith("/policy") && JSON.parse(m.payload).version === version), 5000, `policy v${version}`);
    const leverage = await issue("RISK_ADJUSTMENT", { max_leverage: 3 });
    const universe = await issue("SYMBOL_UNIVERSE", { active_symbols: ["BTCUSDT"] });
    const audit = await issue("ESS_POLICY", { enforcement: "audit" });
    const before = JSON.parse((await retained(audit.seq)).payload).policy;
    expect(before).toMatchObject({ max_leverage: 3, active_symbols: ["BTCUSDT"], enforcement: "audit" });

    const override = await issue("OVERRIDE", { reason: "universe by mistake", overridden_decision_id: universe.id });
    const after = DesiredPolicyMessage.parse(JSON.parse((await retained(override.seq)).payload));
    expect(after.target).toBe(node.nodeId);
    expect(after.policy).toEqual({ ...before, active_symbols: null }); // everything else as it was, before and after the reversed one
    const trail = (await t.api("GET", `/api/federation/decisions?node=${node.nodeId}`)).body.decisions;
    expect(trail.map((d: any) => [d.type, d.overridden_by, d.overrides])).toEqual([
      ["OVERRIDE", null, universe.id],
      ["ESS_POLICY", null, null],
      ["SYMBOL_UNIVERSE", override.id, null],
      ["RISK_ADJUSTMENT", null, null],
    ]);
    expect((await t.api("GET", `/federation/nodes/${node.nodeId}`)).body.desired_policy_version).toBe(override.seq);
    expect(leverage.seq).toBeLessThan(override.seq);
  });

  test("an OVERRIDE that names no decision, one that changes no policy, one overridden already or another target is refused", async () => {
    const { node } = await registered();
    const other = (await registered()).node;
    const issue = (type: string, payload: Record<string, unknown>, target = node.nodeId) => t.api("POST", "/api/federation/decisions", { type, target, payload });
    const universe = (await issue("SYMBOL_UNIVERSE", { active_symbols: ["BTCUSDT"] })).body;
    const task = (await issue("RESEARCH_TASK", { task_type: "echo", description: "ping" })).body;
    const override = (payload: Record<string, unknown>, target = node.nodeId) => issue("OVERRIDE", { reason: "r", ...payload }, target);
    const total = async () => (await t.api("GET", "/api/federation/status")).body.total_decisions;
    const before = await total();

    const cases: [Promise<{ status: number; body: any }>, number, string][] = [
      [override({ overridden_decision_id: "dec_doesnotexist" }), 400, "overridden_decision_id: no decision dec_doesnotexist"],
      [override({}), 400, "overridden_decision_id: required: the id of the decision to override"],
      [issue("OVERRIDE", { overridden_decision_id: universe.id }), 400, "reason: required: why the decision is overridden"],
      [override({ overridden_decision_id: task.id }), 400, `overridden_decision_id: ${task.id} is a RESEARCH_TASK, which changes no policy: there is nothing to reverse`],
      [override({ overridden_decision_id: universe.id }, other.nodeId), 400, `target: an OVERRIDE goes where the decision it reverses went (${node.nodeId}), not ${other.nodeId}`],
      [override({ overridden_decision_id: universe.id }, "fleet"), 400, `target: an OVERRIDE goes where the decision it reverses went (${node.nodeId}), not fleet`],
    ];
    for (const [response, status, detail] of cases) {
      const r = await response;
      expect([r.status, r.body.detail]).toEqual([status, detail]);
    }
    expect(await total()).toBe(before); // nothing was issued

    const first = await override({ overridden_decision_id: universe.id });
    expect(first.status).toBe(201);
    const again = await override({ overridden_decision_id: universe.id });
    expect([again.status, again.body]).toEqual([409, { error: "already_overridden", detail: `overridden_decision_id: ${universe.id} was already overridden by ${first.body.id}` }]);
    const ofOverride = await override({ overridden_decision_id: first.body.id });
    expect([ofOverride.status, ofOverride.body.detail]).toEqual([400, `overridden_decision_id: ${first.body.id} is a OVERRIDE, which changes no policy: there is nothing to reverse`]);
    expect((await t.api("GET", `/api/federation/decisions/${universe.id}`)).body.overridden_by).toBe(first.body.id);
    expect((await t.api("GET", "/api/federation/decisions/dec_doesnotexist")).status).toBe(404);
  });

  test("a research task's result comes back with the ack and is kept in the audit trail; an oversized one is dropped", async () => {
    const { node, creds } = await registered();
    const client = await online(creds);
    const issued = await t.api("POST", "/api/federation/decisions", { type: "RESEARCH_TASK", target: node.nodeId, payload: { task_type: "journal_stats", description: "holds" } });
    const ack = (result: unknown) => client.publishAsync(nodeTopic(node.nodeId, "cmd/ack"), JSON.stringify({ id: issued.body.id, ok: true, appliedAt: Date.now(), result }), { qos: 1 });
    const dropped = () => t.api("GET", "/api/federation/status").then((r) => r.body.ingest.dropped_by_reason["invalid payload"] ?? 0);
    const droppedBefore = await dropped();
    await ack({ pad: "x".repeat(MAX_ACK_RESULT_BYTES) }); // over the limit: refused whole, the decision stays pending
    await eventually(async () => (await dropped()) > droppedBefore, 5000, "the oversized ack dropped");
    const result = { window_minutes: 1440, total: 2, by_verdict: { HOLD: 2 }, by_reason: { COOLDOWN: 2 } };
    await ack(result);
    const listed = await eventually(async () => {
      const r = await t.api("GET", `/api/federation/decisions?node=${node.nodeId}`);
      return r.body.decisions[0]?.acks.length === 1 && r.body.decisions[0];
    });
    expect(listed.acks).toEqual([{ node_id: node.nodeId, ok: true, error: null, applied_at: expect.any(Number), received_at: expect.any(Number), result }]);
  });

  test("decisions issued at the same moment each fold into the desired policy", async () => {
    const { node, creds } = await registered();
    const [paused, audit] = await Promise.all([
      t.api("POST", "/api/federation/mode", { mode: "PAUSED", target: node.nodeId }),
      t.api("POST", "/api/federation/decisions", { type: "ESS_POLICY", target: node.nodeId, payload: { enforcement: "audit" } }),
    ]);
    expect([paused.status, audit.status]).toEqual([201, 201]);
    const client = await online(creds);
    const got = collect(client);
    await subscribe(client, nodeTopic(node.nodeId, "policy"));
    const policy = await eventually(() => got.find((m) => m.topic.endsWith("/policy")));
    const desired = JSON.parse(policy.payload);
    expect(desired.version).toBe(Math.max(paused.body.seq, audit.body.seq));
    expect(desired.policy).toMatchObject({ mode: "PAUSED", enforcement: "audit" });
  });

  test("a decision the node has not acknowledged is sent again when it next connects", async () => {
    const { node, creds } = await registered();
    const issued = await t.api("POST", "/api/federation/decisions", { type: "RESEARCH_TASK", target: node.nodeId, payload: { task_type: "echo", description: "backtest" } });
    expect(issued.status).toBe(201); // nobody was subscribed: the broker dropped it
    const client = await online(creds);
    const got = collect(client);
    await subscribe(client, nodeTopic(node.nodeId, "cmd"));
    await client.publishAsync(nodeTopic(node.nodeId, "birth"), birth(node.nodeId), { qos: 1, retain: true });
    const cmd = await eventually(() => got.find((m) => m.topic.endsWith("/cmd")), 5000, "redelivered cmd");
    expect(JSON.parse(cmd.payload).id).toBe(issued.body.id);
    await client.publishAsync(nodeTopic(node.nodeId, "cmd/ack"), JSON.stringify({ id: issued.body.id, ok: true, appliedAt: Date.now() }), { qos: 1 });
    const listed = await eventually(async () => {
      const r = await t.api("GET", `/api/federation/decisions?node=${node.nodeId}`);
      return r.body.decisions[0]?.pending.length === 0 && r.body.decisions[0];
    });
    expect(listed.acks).toMatchObject([{ node_id: node.nodeId, ok: true }]);
  });

  test("the hub's state is retained online for every client that may read it", async () => {
    const { creds } = await registered();
    const client = await online(creds);
    const got = collect(client);
    expect(await subscribe(client, "edgefed/v1/hub/state")).toBe(1);
    const state = await eventually(() => got.find((m) => m.topic === "edgefed/v1/hub/state"));
    expect(state.retain).toBe(true);
    expect(JSON.parse(state.payload)).toMatchObject({ state: "online", ts: expect.any(Number) });
  });

  test("ACLs: a node cannot publish as another node or read another node's commands", async () => {
    const a = await registered("acl");
    const b = await registered("acl");
    const clientA = await online(a.creds);
    expect(await subscribe(clientA, nodeTopic(b.node.nodeId, "cmd"))).toBe(128);
    expect(await subscribe(clientA, "edgefed/v1/#")).toBe(128);
    expect(await subscribe(clientA, nodeTopic(a.node.nodeId, "cmd"))).toBe(1);

    // Publishing as B: Mosquitto drops it silently, aedes closes the connection; either way the hub never sees it.
    clientA.publish(nodeTopic(b.node.nodeId, "heartbeat"), heartbeat(7), { qos: 0 });
    const clientB = await online(b.creds);
    await clientB.publishAsync(nodeTopic(b.node.nodeId, "heartbeat"), heartbeat(1), { qos: 1 }); // a permitted one, after
    const view = await eventually(async () => {
      const r = await t.api("GET", `/federation/nodes/${b.node.nodeId}`);
      return r.body.heartbeat.count >= 1 && r.body;
    });
    expect(view.heartbeat).toMatchObject({ count: 1, seq: 1 });

    // A node may not take another node's client id (it would kick it off).
    await expect(connectNode(a.creds, { clientId: b.node.nodeId })).rejects.toThrow();
  });

  test("malformed, oversized and mislabelled payloads are dropped and counted; the hub keeps going", async () => {
    const { node, creds } = await registered();
    const client = await online(creds);
    const before = (await t.api("GET", "/api/federation/status")).body.ingest;
    await client.publishAsync(nodeTopic(node.nodeId, "heartbeat"), "not json", { qos: 1 });
    await client.publishAsync(nodeTopic(node.nodeId, "heartbeat"), JSON.stringify({ seq: -1 }), { qos: 1 });
    await client.publishAsync(nodeTopic(node.nodeId, "verdicts"), Buffer.alloc(70_000, 0x7b), { qos: 1 });
    await client.publishAsync(nodeTopic(node.nodeId, "birth"), birth("someone-else"), { qos: 1 });
    await client.publishAsync(nodeTopic(node.nodeId, "heartbeat"), heartbeat(1), { qos: 1 });
    const after = await eventually(async () => {
      const r = (await t.api("GET", "/api/federation/status")).body.ingest;
      return r.dropped >= before.dropped + 4 && r.applied > before.applied && r;
    });
    expect(after.dropped - before.dropped).toBe(4);
    expect(after.dropped_by_reason).toMatchObject({ "invalid payload": expect.any(Number), "wrong node": expect.any(Number) });
    expect((await t.api("GET", "/health")).status).toBe(200);
  });

  test("admin endpoints need the admin token", async () => {
    for (const [method, path] of [["GET", "/federation/nodes"], ["GET", "/api/federation/status"], ["GET", "/api/federation/decisions"], ["DELETE", "/federation/nodes/x"], ["POST", "/federation/nodes/x/readmit"]] as const) {
      const r = await t.api(method, path, undefined, "nope");
      expect(r.status).toBe(401);
      expect(r.body.error).toBe("unauthorized");
    }
    const health = await t.api("GET", "/health", undefined, "");
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({ status: "ok", broker: "up", store: "up" });
  });

  test("node list filters by capability and pages with next_after", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const node = newNode(`page-${brokerKind}-${i}`);
      ids.push(node.nodeId);
      expect((await t.api("POST", "/federation/register", registerBody(node, { capabilities: ["pager"] }), t.enrollmentToken())).status).toBe(201);
    }
    const first = await t.api("GET", "/federation/nodes?capability=pager&limit=2");
    expect(first.body.total).toBe(3);
    expect(first.body.nodes.map((n: any) => n.node_id)).toEqual(ids.slice(0, 2));
    expect(first.body.next_after).toBe(ids[1]);
    const second = await t.api("GET", `/federation/nodes?capability=pager&limit=2&after=${first.body.next_after}`);
    expect(second.body.nodes.map((n: any) => n.node_id)).toEqual([ids[2]]);
    expect(second.body.next_after).toBeNull();
    expect((await t.api("GET", "/federation/nodes?status=sleepy")).status).toBe(400);
  });

  test("DELETE revokes the node: its session is dropped and its credentials refused", async () => {
    const { node, creds } = await registered();
    const client = await online(creds);
    const closed = new Promise<void>((resolve) => client.once("close", () => resolve()));
    const removed = await t.api("DELETE", `/federation/nodes/${node.nodeId}`);
    expect(removed.status).toBe(200);
    await closed;
    await expect(connectNode(creds)).rejects.toThrow();
    expect((await t.api("GET", `/federation/nodes/${node.nodeId}`)).status).toBe(410); // removed, until readmitted
    expect((await t.api("DELETE", `/federation/nodes/${node.nodeId}`)).status).toBe(410);
    expect((await t.api("DELETE", `/federation/nodes/unknown-${brokerKind}`)).status).toBe(404);
  });
});

test("a hub that has issued no decision says so in its status: total_decisions 0, last_update null, every role advisory (not enabled)", async () => {
  const fresh = await startTestHub();
  try {
    const status = (await fresh.api("GET", "/api/federation/status")).body;
    expect(status).toMatchObject({ total_decisions: 0, last_update: null, decisions: { total: 0 } });
    expect(status.roles).toEqual({ supervisor: false, risk_officer: false, ess_guard: false, capital_allocator: false, strategy_allocator: false, researcher: false });
    for (const role of Object.values(status.role_status)) expect(role).toEqual({ mode: "advisory", last_evaluation: null, last_decision: null });
  } finally {
    await fresh.stop();
  }
});

describe("hub restart", () => {
  afterAll(() => removeTempDirs());

  test("keeps the registry, the credentials, the decisions and the hub key", async () => {
    const first = await startTestHub();
    const node = newNode("survivor");
    const registered = await first.api("POST", "/federation/register", registerBody(node), first.enrollmentToken());
    expect(registered.status).toBe(201);
    const decision = await first.api("POST", "/api/federation/decisions", { type: "SYMBOL_UNIVERSE", target: "fleet", payload: { active_symbols: ["BTCUSDT"] } });
    expect(decision.status).toBe(201);
    const client = await connectNode(registered.body.mqtt);
    await client.publishAsync(nodeTopic(node.nodeId, "birth"), birth(node.nodeId, { version: "2.0.0", capabilities: ["gpu"] }), { qos: 1 });
    await client.publishAsync(nodeTopic(node.nodeId, "heartbeat"), heartbeat(41), { qos: 1 });
    await eventually(async () => (await first.api("GET", "/federation/nodes/survivor")).body.heartbeat.seq === 41);
    await client.endAsync(true);
    await first.stop();

    const second = await startTestHub({ dataDir: first.dataDir });
    try {
      const view = await second.api("GET", "/federation/nodes/survivor");
      expect(view.status).toBe(200);
      expect(view.body.registration_id).toBe(registered.body.registration_id);
      expect(view.body).toMatchObject({ version: "2.0.0", arch: "arm64", capabilities: ["gpu"], heartbeat: { seq: 41, count: 1 } });
      expect(view.body.health.state).not.toBe("unhealthy"); // silence counts from the restart, not from before it
      const sameCredentials = await connectNode({ ...registered.body.mqtt, url: second.hub.mqttUrl });
      await sameCredentials.endAsync(true);
      const again = await second.api("POST", "/federation/register", registerBody(node), second.enrollmentToken());
      expect(again.body.hub_public_key).toBe(registered.body.hub_public_key);
      const listed = await second.api("GET", "/api/federation/decisions");
      expect(listed.body.decisions.map((d: any) => d.id)).toContain(decision.body.id);
    } finally {
      await second.stop();
    }
  });
});
