// Defect 1 of issue 10: a desired policy was signed without its target, so
// anyone with hub-level publish rights could copy node B's retained policy
// onto node A's topic (or the fleet's) and A adopted it. Now the hub signs
// the target with the policy and the agent refuses a policy signed for
// another target. Real Mosquitto (dynamic security), real hub, real agents;
// the copy is published with the hub's own broker credentials.
import { afterAll, beforeAll, expect, test } from "bun:test";
import mqtt, { type MqttClient } from "mqtt";
import { Agent } from "../agent/agent.ts";
import { DEFAULT_POLICY } from "../kernel/policy.ts";
import { DesiredPolicyMessage } from "../protocol/messages.ts";
import { signMessage, verifyMessage, type Ed25519KeyPair } from "../protocol/signing.ts";
import { FLEET_POLICY_TOPIC, nodeTopic } from "../protocol/topics.ts";
import { openSqliteRegistry } from "../hub/store/sqlite/sqlite-store.ts";
import { removeTempDirs } from "./helpers.ts";
import { testAgentConfig } from "./support/agent-harness.ts";
import { eventually, startTestHub, type TestHub } from "./support/hub-harness.ts";
import { startMosquitto, type RunningMosquitto } from "./support/mosquitto.ts";

let mosquitto: RunningMosquitto;
let t: TestHub;
const agents: Agent[] = [];
const clients: MqttClient[] = [];

beforeAll(async () => {
  mosquitto = await startMosquitto({ dynsec: true });
  t = await startTestHub({ mosquitto });
});
afterAll(async () => {
  for (const client of clients) await client.endAsync().catch(() => {});
  for (const agent of agents) await agent.stop().catch(() => {});
  await t.stop();
  await mosquitto.stop();
  removeTempDirs();
});

async function startAgent(nodeId: string, logs: string[]): Promise<Agent> {
  const agent = await Agent.start(testAgentConfig(t, nodeId, { log: (line) => logs.push(line) }));
  agents.push(agent);
  await eventually(() => agent.online, 15_000, `${nodeId} online`);
  return agent;
}

/** A client with the hub's own broker credentials: the publish rights the attack needs. */
async function asHub(): Promise<MqttClient> {
  const client = await mqtt.connectAsync(mosquitto.url, { username: mosquitto.admin!.username, password: mosquitto.admin!.password, ca: mosquitto.ca!, clientId: `attacker-${clients.length}`, reconnectPeriod: 0 });
  clients.push(client);
  return client;
}

/** The retained message on `topic`, as a subscriber gets it. */
async function retained(client: MqttClient, topic: string): Promise<string> {
  const seen = new Promise<string>((resolve) => client.on("message", (at, payload) => at === topic && payload.length > 0 && resolve(payload.toString())));
  await client.subscribeAsync(topic, { qos: 1 });
  return seen;
}

const modeOf = (agent: Agent) => (agent.status() as { mode: string; policy_version: number });

test("node B's retained policy republished on node A's topic or on the fleet's is refused by A; nothing is adopted or acknowledged", async () => {
  const logsA: string[] = [];
  const a = await startAgent("bound-a", logsA);
  const b = await startAgent("bound-b", []);
  expect((await t.api("POST", "/api/federation/mode", { mode: "SHADOW", target: "bound-b" })).status).toBe(201);
  await eventually(() => modeOf(b).mode === "SHADOW", 10_000, "B's own policy in force on B");
  const before = modeOf(a);
  expect(before.mode).toBe("LIVE");

  const attacker = await asHub();
  const policyOfB = await retained(attacker, nodeTopic("bound-b", "policy"));
  const acksOfA: string[] = [];
  attacker.on("message", (topic, payload) => topic === nodeTopic("bound-a", "cmd/ack") && acksOfA.push(payload.toString()));
  await attacker.subscribeAsync(nodeTopic("bound-a", "cmd/ack"), { qos: 1 });

  await attacker.publishAsync(nodeTopic("bound-a", "policy"), policyOfB, { qos: 1, retain: true });
  await attacker.publishAsync(FLEET_POLICY_TOPIC, policyOfB, { qos: 1, retain: true });
  const refusals = await eventually(
    () => (modeOf(a).mode !== "LIVE" ? ["adopted"] : logsA.filter((line) => line.startsWith("refused the desired policy")).length === 2 && logsA.filter((line) => line.startsWith("refused"))),
    10_000,
    "A to refuse (or adopt) both copies",
  );
  expect(modeOf(a)).toMatchObject({ mode: "LIVE", policy_version: before.policy_version });
  expect(JSON.parse(policyOfB)).toMatchObject({ target: "bound-b", policy: { mode: "SHADOW" } }); // what A was shown
  expect(refusals).toEqual([
    "refused the desired policy on nodes/bound-a/policy: signed for bound-b, not bound-a",
    "refused the desired policy on fleet/policy: signed for bound-b, not fleet",
  ]);
  expect(acksOfA).toEqual([]);
  // The next real fleet policy replaces the copy on the fleet topic, and A follows it.
  expect((await t.api("POST", "/api/federation/mode", { mode: "PAUSED" })).status).toBe(201);
  await eventually(() => modeOf(a).mode === "PAUSED", 10_000, "A to follow the real fleet policy");
}, 60_000);

test("a policy an older hub kept unbound is signed again, bound, when the hub starts, and the agent then follows it", async () => {
  const logs: string[] = [];
  const agent = await startAgent("bound-upgrade", logs);
  expect((await t.api("POST", "/api/federation/mode", { mode: "SHADOW", target: "bound-upgrade" })).status).toBe(201);
  await eventually(() => modeOf(agent).mode === "SHADOW", 10_000, "the node's own policy in force");
  const { dataDir } = t;
  await t.stop();

  // What an older hub left: the next version of the node's policy, signed without a target, in its registry and retained.
  const registry = openSqliteRegistry(dataDir);
  const hubKeys = JSON.parse((await registry.hubValues.get("hub_keys"))!) as Ed25519KeyPair;
  const version = modeOf(agent).policy_version + 1;
  const unbound = signMessage({ version, issuedAt: Date.now(), policy: { ...DEFAULT_POLICY, mode: "PAUSED" } }, hubKeys.privateKey);
  await registry.decisions.savePolicy("bound-upgrade", unbound as unknown as DesiredPolicyMessage);
  registry.close();
  const oldHub = await asHub();
  await oldHub.publishAsync(nodeTopic("bound-upgrade", "policy"), JSON.stringify(unbound), { qos: 1, retain: true });
  await eventually(() => logs.some((line) => line.includes("nodes/bound-upgrade/policy: malformed: target:")), 10_000, "the unbound policy refused");
  expect(modeOf(agent).mode).toBe("SHADOW");

  t = await startTestHub({ mosquitto, dataDir });
  await eventually(() => modeOf(agent).mode === "PAUSED", 15_000, "the re-signed policy followed");
  const republished = DesiredPolicyMessage.parse(JSON.parse(await retained(await asHub(), nodeTopic("bound-upgrade", "policy"))));
  expect(republished).toMatchObject({ target: "bound-upgrade", version, policy: { mode: "PAUSED" } });
  expect(verifyMessage(republished, hubKeys.publicKey)).toBe(true);
}, 60_000);
