// Issue 16's "Tests": three hub replicas as real processes
// (test/support/hub-replicas.ts) on one Mosquitto with dynamic security and
// one PostgreSQL registry, node traffic spread over them by shared
// subscriptions. Nodes register through any replica; their verdicts and
// heartbeats land on all three and the registry is exact; an API read on any
// replica sees a write made on another; a decision issued on one replica
// reaches nodes whose acks land on the others, each ack recorded once; the
// load generator's nodes, registered through one replica, have every verdict
// the broker acknowledged counted once; a `kill -9` of a replica while nodes
// publish and register loses nothing that was acknowledged, and the health
// sweep goes on without it. The registry is read through the PostgreSQL
// store the hubs write; each replica's API is held to it.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { MqttClient } from "mqtt";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { SEQS_FILE, type VerdictSeqs } from "../bench/loadgen/key-cache.ts";
import { startChild } from "../bench/support/child.ts";
import type { HubStore } from "../hub/store/hub-store.ts";
import { deliveryOf, nodeTopic } from "../protocol/topics.ts";
import { REPO_ROOT, removeTempDirs, tempDir } from "./helpers.ts";
import { connectNode, eventually, newNode, registerBody, type TestNode } from "./support/hub-harness.ts";
import { intentStream } from "./fixtures/intents.ts";
import { agentStatus, killAgentProcess, startAgentProcess, writeAgentEnvFor } from "./support/agent-process.ts";
import { HUB_PROCESS_ADMIN_TOKEN } from "./support/hub-process.ts";
import { startHubReplicas, type HubReplica, type HubReplicas } from "./support/hub-replicas.ts";
import { startMosquitto, type RunningMosquitto } from "./support/mosquitto.ts";
import { heartbeat, verdictEvent } from "./support/node-payloads.ts";
import { POSTGRES_START_BOUND_MS, postgresUnavailable, startPostgres, type RunningPostgres } from "./support/postgres.ts";
import { sharedTestTls } from "./support/test-tls.ts";

const REPLICAS = 3;
/** Silence after which a node is offline (EDGEFED_OFFLINE_AFTER_S): four of the test's 1 s heartbeats. */
const OFFLINE_AFTER_S = 4;
/** The bound: the health sweep goes on on another replica within 10 s of a replica's death. */
const SWEEP_HANDOVER_MS = 10_000;
/** Bound of a wait for the registry to hold what was published (a few hundred messages on a loaded 2-core machine). */
const INGEST_BOUND_MS = 30_000;
/** Bound of a wait for every replica's API to show what the registry holds. */
const CONVERGE_BOUND_MS = 10_000;
const HEARTBEAT_QOS = deliveryOf("heartbeat").qos;

const unavailable = postgresUnavailable();

/** How many verdicts a tally counted (by verdict). */
const countedIn = (tally: { byVerdict: Record<string, number> } | undefined) => Object.values(tally?.byVerdict ?? {}).reduce((sum, n) => sum + n, 0);

/** The verdict event of `seq`: every third HOLD (COOLDOWN), the rest PASS, so the tally by verdict is known. */
const verdictOf = (seq: number) => (seq % 3 === 0 ? verdictEvent(seq, "HOLD", ["COOLDOWN"]) : verdictEvent(seq, "PASS", []));

if (unavailable) {
  describe.skip(`hub replicas (${unavailable})`, () => test("replicas", () => {}));
} else {
  let postgres: RunningPostgres;
  let mosquitto: RunningMosquitto;
  let hubs: HubReplicas;
  let replicas: HubReplica[];
  let registry: HubStore;
  const clients: MqttClient[] = [];

  beforeAll(async () => {
    [postgres, mosquitto] = await Promise.all([startPostgres(), startMosquitto({ dynsec: true })]);
    hubs = await startHubReplicas({
      count: REPLICAS,
      mosquitto,
      databaseUrl: await postgres.freshRegistryUrl(),
      env: { EDGEFED_OFFLINE_AFTER_S: String(OFFLINE_AFTER_S) },
    });
    replicas = hubs.replicas;
    registry = hubs.registry;
  }, POSTGRES_START_BOUND_MS + REPLICAS * 30_000);

  afterAll(async () => {
    for (const client of clients) client.end(true);
    await hubs?.stop();
    await mosquitto?.stop();
    await postgres?.stop();
    removeTempDirs();
  });

  /** Registers `node` through `replica`; the answer's status and body (201 with MQTT credentials for a new node). */
  async function register(replica: HubReplica, node: TestNode, token: string): Promise<{ status: number; body: any }> {
    return replica.api("POST", "/federation/register", registerBody(node), token);
  }

  /** Registers a new node through `replica` (201 expected) and connects it to the broker. */
  async function onlineNode(replica: HubReplica, nodeId: string, token: string): Promise<{ node: TestNode; client: MqttClient }> {
    const node = newNode(nodeId);
    const registered = await register(replica, node, token);
    if (registered.status !== 201) throw new Error(`registering ${nodeId} through ${replica.hubId}: ${registered.status} ${JSON.stringify(registered.body)}`);
    const client = await connectNode(registered.body.mqtt);
    clients.push(client);
    return { node, client };
  }

  const applied = async (replica: HubReplica): Promise<number> => (await replica.api("GET", "/api/federation/status")).body.ingest.applied;

  /**
   * The registry holds `nodeId`'s verdicts 1..count exactly: the tally (last
   * seq, none missing, every verdict counted once) and one recorded verdict
   * event per seq, from which the seq order is recovered. `expected` pins
   * the redeliveries (after a kill the broker redelivers what the dead
   * replica had committed without its PUBACK going out, so any number when
   * not given) and the tally by verdict and reason (for verdictOf's).
   */
  async function expectExactVerdicts(nodeId: string, count: number, expected: { duplicates?: number; byVerdictOf?: boolean } = {}): Promise<void> {
    const tally = (await registry.nodes.get(nodeId))?.live.verdicts;
    const counted = countedIn(tally);
    expect({ nodeId, lastSeq: tally?.lastSeq, missing: tally?.missing, counted }).toEqual({ nodeId, lastSeq: count, missing: 0, counted: count });
    if (expected.duplicates !== undefined) expect({ nodeId, duplicates: tally?.duplicates }).toEqual({ nodeId, duplicates: expected.duplicates });
    if (expected.byVerdictOf) {
      const holds = Math.floor(count / 3);
      expect({ nodeId, byVerdict: tally?.byVerdict, byReason: tally?.byReason }).toEqual({ nodeId, byVerdict: { PASS: count - holds, HOLD: holds }, byReason: holds > 0 ? { COOLDOWN: holds } : {} });
    }
    const events = await registry.federationEvents.list({ node: nodeId, limit: 100_000 });
    const seqs = events.flatMap(({ event }) => (event.type === "verdict" ? [event.event.seq] : []));
    expect({ nodeId, seqs: [...seqs].sort((a, b) => a - b) }).toEqual({ nodeId, seqs: Array.from({ length: count }, (_, i) => i + 1) });
  }

  /**
   * Waits until the registry has every node's verdicts 1..`count` in its
   * tally (last seq `count`, `count` counted, none missing): a higher seq may
   * be committed by one replica before a lower one another replica holds.
   */
  async function registryHolds(nodeIds: string[], count: number): Promise<void> {
    let behind: Record<string, unknown> = {};
    await eventually(
      async () => {
        behind = {};
        for (const nodeId of nodeIds) {
          const tally = (await registry.nodes.get(nodeId))?.live.verdicts;
          const counted = countedIn(tally);
          if (tally?.lastSeq !== count || counted !== count || tally.missing !== 0) behind[nodeId] = { lastSeq: tally?.lastSeq, counted, missing: tally?.missing };
        }
        return Object.keys(behind).length === 0;
      },
      INGEST_BOUND_MS,
      () => `every node's verdicts 1..${count} counted in the registry (those behind: ${JSON.stringify(behind)})\n${hubs.outputs()}`,
    );
  }

  /** Waits until `nodeId`'s verdict tally in the API of every running replica equals the registry's. */
  async function everyReplicaAgrees(nodeId: string): Promise<void> {
    const stored = (await registry.nodes.get(nodeId))!.live.verdicts;
    const expected = { last_seq: stored.lastSeq, by_verdict: stored.byVerdict, by_reason: stored.byReason, duplicates: stored.duplicates, missing: stored.missing };
    let seen: Record<string, unknown> = {};
    await eventually(
      async () => {
        seen = {};
        for (const replica of replicas.filter((r) => r.running())) seen[replica.hubId] = (await replica.api("GET", `/federation/nodes/${nodeId}`)).body?.verdicts;
        return Object.values(seen).every((tally) => Bun.deepEquals(tally, expected));
      },
      CONVERGE_BOUND_MS,
      () => `every replica's API showing ${nodeId}'s verdict tally as the registry has it, ${JSON.stringify(expected)}; the replicas show ${JSON.stringify(seen)}`,
    );
  }

  describe("three hub replicas on one Mosquitto and one PostgreSQL", () => {
    test("nodes register through any replica; their verdicts (some sent twice) spread over all three, and the registry is exact: every verdict once, seq order recoverable, no gap; every replica's API shows the same tally", async () => {
      const NODES = 6;
      const VERDICTS = 60;
      const sentTwice = (seq: number) => seq % 7 === 0; // a redelivery, as an agent's outbox sends after a lost PUBACK
      const DUPLICATES = Math.floor(VERDICTS / 7);
      const token = await hubs.enrollmentToken();
      const nodes = await Promise.all(Array.from({ length: NODES }, (_, i) => onlineNode(replicas[i % REPLICAS]!, `spread-pi-${i}`, token)));
      const appliedBefore = await Promise.all(replicas.map(applied));

      // Back to back at QoS 1, as an outbox replays: the replicas take turns and commit concurrently.
      await Promise.all(
        nodes.map(({ node, client }) => {
          const publishes: Promise<unknown>[] = [];
          for (let seq = 1; seq <= VERDICTS; seq++) {
            publishes.push(client.publishAsync(nodeTopic(node.nodeId, "verdicts"), verdictOf(seq), { qos: 1 }));
            if (sentTwice(seq)) publishes.push(client.publishAsync(nodeTopic(node.nodeId, "verdicts"), verdictOf(seq), { qos: 1 }));
          }
          return Promise.all(publishes);
        }),
      );

      const nodeIds = nodes.map(({ node }) => node.nodeId);
      await registryHolds(nodeIds, VERDICTS);
      for (const nodeId of nodeIds) await expectExactVerdicts(nodeId, VERDICTS, { duplicates: DUPLICATES, byVerdictOf: true });
      const appliedAfter = await Promise.all(replicas.map(applied));
      for (const [i, replica] of replicas.entries()) expect({ replica: replica.hubId, applied: appliedAfter[i]! - appliedBefore[i]! > 0 }).toEqual({ replica: replica.hubId, applied: true });
      for (const nodeId of nodeIds) await everyReplicaAgrees(nodeId);
    }, 90_000);

    test("heartbeats spread over the replicas: the registry keeps the newest (by the node's time) and counts every one, and every replica's API shows it", async () => {
      const NODES = 3;
      const HEARTBEATS = 12;
      const token = await hubs.enrollmentToken();
      const nodes = await Promise.all(Array.from({ length: NODES }, (_, i) => onlineNode(replicas[i % REPLICAS]!, `beat-pi-${i}`, token)));
      const startedAt = Date.now();
      // Back to back at QoS 1 (so none is lost on the way), dated a second apart as a node's are.
      await Promise.all(
        nodes.flatMap(({ node, client }) =>
          Array.from({ length: HEARTBEATS }, (_, i) =>
            client.publishAsync(nodeTopic(node.nodeId, "heartbeat"), heartbeat(i + 1, { ts: startedAt - (HEARTBEATS - 1 - i) * 1000 }), { qos: 1 }),
          ),
        ),
      );
      const nodeIds = nodes.map(({ node }) => node.nodeId);
      let stored: Record<string, unknown> = {};
      await eventually(
        async () => {
          for (const nodeId of nodeIds) {
            const live = (await registry.nodes.get(nodeId))?.live;
            stored[nodeId] = { count: live?.heartbeats, seq: live?.heartbeatSeq };
          }
          return Object.values(stored).every((heard) => Bun.deepEquals(heard, { count: HEARTBEATS, seq: HEARTBEATS }));
        },
        INGEST_BOUND_MS,
        () => `every node's ${HEARTBEATS} heartbeats counted in the registry, the newest (seq ${HEARTBEATS}) kept: ${JSON.stringify(stored)}\n${hubs.outputs()}`,
      );
      let shown: Record<string, unknown> = {};
      await eventually(
        async () => {
          shown = {};
          for (const replica of replicas) {
            for (const nodeId of nodeIds) {
              const heard = (await replica.api("GET", `/federation/nodes/${nodeId}`)).body?.heartbeat;
              shown[`${replica.hubId} ${nodeId}`] = { count: heard?.count, seq: heard?.seq };
            }
          }
          return Object.values(shown).every((heard) => Bun.deepEquals(heard, { count: HEARTBEATS, seq: HEARTBEATS }));
        },
        CONVERGE_BOUND_MS,
        () => `every replica's API showing ${HEARTBEATS} heartbeats, the newest seq ${HEARTBEATS}: ${JSON.stringify(shown)}`,
      );
    }, 60_000);

    test("an API read on any replica sees a write made on another: a token, a registration, a decision, a token's revocation, a removal", async () => {
      const [a, b, c] = replicas as [HubReplica, HubReplica, HubReplica];
      const others = (writer: HubReplica) => replicas.filter((replica) => replica !== writer);

      const created = await c.api("POST", "/api/federation/tokens", { label: "read-after-write", uses: 5 });
      expect(created.status).toBe(201);
      for (const reader of others(c)) {
        const listed = await reader.api("GET", "/api/federation/tokens");
        expect({ reader: reader.hubId, ids: listed.body.tokens.map((t: { id: string }) => t.id) }).toEqual({ reader: reader.hubId, ids: expect.arrayContaining([created.body.id]) });
      }

      const node = newNode("raw-pi-1");
      const registered = await register(b, node, created.body.token);
      expect(registered.status).toBe(201);
      for (const reader of others(b)) {
        const read = await reader.api("GET", `/federation/nodes/${node.nodeId}`);
        expect({ reader: reader.hubId, status: read.status, node: read.body.node_id }).toEqual({ reader: reader.hubId, status: 200, node: node.nodeId });
        const listed = await reader.api("GET", `/federation/nodes?q=${node.nodeId}`);
        expect({ reader: reader.hubId, nodes: listed.body.nodes.map((n: { node_id: string }) => n.node_id) }).toEqual({ reader: reader.hubId, nodes: [node.nodeId] });
      }

      const issued = await a.api("POST", "/api/federation/decisions", { type: "FREEZE", target: node.nodeId, payload: { reason: "read-after-write" } });
      expect(issued.status).toBe(201);
      const policyVersion = (await a.api("GET", `/federation/nodes/${node.nodeId}`)).body.desired_policy_version;
      for (const reader of others(a)) {
        const read = await reader.api("GET", `/api/federation/decisions/${issued.body.id}`);
        expect({ reader: reader.hubId, status: read.status, seq: read.body.seq, targets: read.body.targets }).toEqual({ reader: reader.hubId, status: 200, seq: issued.body.seq, targets: [node.nodeId] });
        const detail = await reader.api("GET", `/federation/nodes/${node.nodeId}`);
        expect({ reader: reader.hubId, version: detail.body.desired_policy_version }).toEqual({ reader: reader.hubId, version: policyVersion });
      }

      const revoked = await a.api("DELETE", `/api/federation/tokens/${created.body.id}`);
      expect(revoked.status).toBe(200);
      for (const reader of others(a)) {
        const refused = await register(reader, newNode(`raw-pi-after-revoke-${reader.hubId}`), created.body.token);
        expect({ reader: reader.hubId, status: refused.status }).toEqual({ reader: reader.hubId, status: 401 });
      }

      const removed = await c.api("DELETE", `/federation/nodes/${node.nodeId}`);
      expect(removed.status).toBe(200);
      for (const reader of others(c)) {
        const read = await reader.api("GET", `/federation/nodes/${node.nodeId}`);
        expect({ reader: reader.hubId, status: read.status }).toEqual({ reader: reader.hubId, status: 410 });
        const again = await register(reader, node, await hubs.enrollmentToken());
        expect({ reader: reader.hubId, status: again.status, error: again.body.error }).toEqual({ reader: reader.hubId, status: 403, error: "node_removed" });
      }
    }, 60_000);

    test("a decision issued on one replica reaches nodes whose traffic lands on the others; each node's ack (sent twice) is recorded once, and every replica shows it", async () => {
      const NODES = 6;
      const token = await hubs.enrollmentToken();
      const nodes = await Promise.all(Array.from({ length: NODES }, (_, i) => onlineNode(replicas[i % REPLICAS]!, `ack-pi-${i}`, token)));
      const received = new Map<string, Set<string>>(nodes.map(({ node }) => [node.nodeId, new Set()]));
      for (const { node, client } of nodes) {
        client.on("message", (topic, payload) => {
          if (topic !== nodeTopic(node.nodeId, "cmd")) return;
          const decision = JSON.parse(payload.toString()) as { id: string };
          received.get(node.nodeId)!.add(decision.id);
          // Acked twice: a redelivered ack, as after a lost PUBACK; the two land on different replicas.
          const ack = JSON.stringify({ id: decision.id, ok: true, appliedAt: Date.now() });
          for (let i = 0; i < 2; i++) client.publish(nodeTopic(node.nodeId, "cmd/ack"), ack, { qos: 1 });
        });
        await client.subscribeAsync(nodeTopic(node.nodeId, "cmd"), { qos: 1 });
      }

      // A fleet decision from one replica, and one decision per node from a replica other than the one it registered through.
      const fleet = await replicas[1]!.api("POST", "/api/federation/decisions", { type: "MODE_CHANGE", target: "fleet", payload: { mode: "SHADOW", reason: "replicas" } });
      expect(fleet.status, JSON.stringify(fleet.body)).toBe(201);
      const perNode = await Promise.all(
        nodes.map(async ({ node }, i) => {
          const issued = await replicas[(i + 1) % REPLICAS]!.api("POST", "/api/federation/decisions", { type: "CASHFLOW", target: node.nodeId, payload: { profit_lock_pct: 50, reinvest_pct: 50 } });
          expect(issued.status, JSON.stringify(issued.body)).toBe(201);
          return { nodeId: node.nodeId, id: issued.body.id as string };
        }),
      );
      const expected = new Map(nodes.map(({ node }, i) => [node.nodeId, [fleet.body.id as string, perNode[i]!.id]]));

      await eventually(
        () => [...expected].every(([nodeId, ids]) => ids.every((id) => received.get(nodeId)!.has(id))),
        INGEST_BOUND_MS,
        () => `every node receiving its decisions: ${JSON.stringify(Object.fromEntries([...received].map(([n, ids]) => [n, [...ids]])))}\n${hubs.outputs()}`,
      );
      const ackedBy = async (id: string) => new Set((await registry.decisions.get(id))?.acks.map((ack) => ack.nodeId) ?? []);
      await eventually(
        async () => {
          for (const [nodeId, ids] of expected) for (const id of ids) if (!(await ackedBy(id)).has(nodeId)) return false;
          return true;
        },
        INGEST_BOUND_MS,
        () => `every node's acks in the registry\n${hubs.outputs()}`,
      );

      const decisionIds = [fleet.body.id as string, ...perNode.map((d) => d.id)];
      const ours = new Set(expected.keys());
      let views: Record<string, unknown> = {};
      await eventually(
        async () => {
          views = {};
          for (const replica of replicas) {
            for (const id of decisionIds) {
              const view = (await replica.api("GET", `/api/federation/decisions/${id}`)).body;
              const ackNodes = (view.acks ?? []).map((ack: { node_id: string }) => ack.node_id).filter((n: string) => ours.has(n)).sort();
              const pending = (view.pending ?? []).filter((n: string) => ours.has(n));
              views[`${replica.hubId} ${id}`] = { ackNodes, pending };
            }
          }
          return decisionIds.every((id) => {
            const want = [...expected].filter(([, ids]) => ids.includes(id)).map(([nodeId]) => nodeId).sort();
            return replicas.every((replica) => Bun.deepEquals(views[`${replica.hubId} ${id}`], { ackNodes: want, pending: [] }));
          });
        },
        CONVERGE_BOUND_MS,
        () => `every replica showing each decision acked once by each of its nodes, none pending: ${JSON.stringify(views)}`,
      );
    }, 90_000);

    test("the load generator's nodes (bench/loadgen, two processes) register through one replica while the broker spreads their traffic over all three: every verdict the broker acknowledged is counted once", async () => {
      const NODES = 40;
      const cacheDir = tempDir("edgefed-loadgen-");
      const args = [join(REPO_ROOT, "bench/loadgen/main.ts"), "--nodes", String(NODES), "--hub", replicas[1]!.httpUrl(), "--hub-ca", sharedTestTls().caFile, "--processes", "2"];
      args.push("--prefix", "lgr", "--duration-s", "6", "--heartbeat-s", "1", "--verdicts-per-s", "100", "--cache-dir", cacheDir, "--warmup-s", "60");
      const env = { EDGEFED_ENROLL_TOKEN: await hubs.enrollmentToken({ uses: NODES }), EDGEFED_METRICS_TOKEN: HUB_PROCESS_ADMIN_TOKEN };
      // Ready once it printed its summary's JSON line (bench format), at the end of the run.
      const loadgen = await startChild(args, env, /^\{"bench":"loadgen"(.*)$/m, 120_000);
      await loadgen.stop();
      const summary = JSON.parse(`{"bench":"loadgen"${loadgen.ready}`);
      expect(summary).toMatchObject({ value: NODES, registered_new: NODES, registration_failures: 0 });
      expect(summary.verdicts_acked).toBeGreaterThan(0);
      // The seqs the broker acknowledged, per node, as the load generator kept them (by the hub's public key: one registry, one key).
      const byHub = JSON.parse(readFileSync(join(cacheDir, SEQS_FILE), "utf8")) as VerdictSeqs;
      expect(Object.keys(byHub)).toHaveLength(1);
      const acked = Object.entries(Object.values(byHub)[0]!);
      expect(acked).toHaveLength(NODES);
      for (const [nodeId, lastSeq] of acked) {
        await registryHolds([nodeId], lastSeq);
        await expectExactVerdicts(nodeId, lastSeq);
      }
      for (const [nodeId] of acked) await everyReplicaAgrees(nodeId);
    }, 180_000);

    test("real agents (bun agent/main.ts) enrolled through two different replicas: every verdict they judged is in the registry once; a FREEZE issued on the third reaches both, each ack recorded once", async () => {
      const INTENTS = 60;
      const agents = await Promise.all(
        ["agent-pi-1", "agent-pi-2"].map(async (nodeId, i) => {
          const envFile = writeAgentEnvFor({ hubUrl: replicas[i + 1]!.httpUrl(), hubCaFile: sharedTestTls().caFile, enrollToken: await hubs.enrollmentToken() }, nodeId);
          return { nodeId, running: startAgentProcess(envFile) };
        }),
      );
      try {
        // The strategy's intents, judged by each agent's kernel; the verdict events reach the hub through its outbox.
        for (const [i, agent] of agents.entries()) {
          const socket = await agent.running.socket;
          const intents = intentStream(INTENTS, { seed: 40 + i, prefix: agent.nodeId });
          for (let at = 0; at < INTENTS; at += 10) {
            const response = await fetch("http://localhost/v1/intents", { unix: socket, method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(intents.slice(at, at + 10)) });
            expect(response.status).toBe(200);
          }
        }
        const nodeIds = agents.map((agent) => agent.nodeId);
        await registryHolds(nodeIds, INTENTS);
        for (const nodeId of nodeIds) await expectExactVerdicts(nodeId, INTENTS);

        const freeze = await replicas[0]!.api("POST", "/api/federation/decisions", { type: "FREEZE", target: "fleet", payload: { reason: "replicas" } });
        expect(freeze.status, JSON.stringify(freeze.body)).toBe(201);
        for (const agent of agents) await eventually(async () => (await agentStatus(agent.running)).mode === "FREEZE", INGEST_BOUND_MS, `${agent.nodeId} in FREEZE`);
        let acks: unknown[] = [];
        await eventually(
          async () => {
            acks = ((await registry.decisions.get(freeze.body.id))?.acks ?? []).filter((ack) => nodeIds.includes(ack.nodeId)).map((ack) => [ack.nodeId, ack.ok]);
            return acks.length === nodeIds.length;
          },
          INGEST_BOUND_MS,
          () => `both agents' acks of the FREEZE in the registry (has ${JSON.stringify(acks)})`,
        );
        expect(acks.sort()).toEqual(nodeIds.map((nodeId) => [nodeId, true]));
        for (const nodeId of nodeIds) await everyReplicaAgrees(nodeId);
      } finally {
        await Promise.all(agents.map(({ running }) => killAgentProcess(running)));
      }
    }, 120_000);

    test("kill -9 of one replica while nodes publish verdicts and register: no acknowledged registration or verdict is lost, and a node that goes silent is marked offline on the surviving replicas within 10 s", async () => {
      const PUBLISHERS = 4;
      const VERDICTS = 200;
      const VERDICT_EVERY_MS = 25; // 40 verdict events a second per node: 8 s of traffic, the kill after the first 60 of node 0
      const KILL_AFTER_SEQ = 60;
      const MAX_REGISTRATIONS = 40; // one at a time while the verdicts flow: before, around and after the kill
      const token = await hubs.enrollmentToken();
      // The leader is killed: the replica whose /health names duties it leads (`leads`), else the first started, the first to take them.
      const leading = await Promise.all(replicas.map(async (replica) => ((await replica.api("GET", "/health")).body?.leads ?? []).length > 0));
      const victim = replicas[leading.indexOf(true)] ?? replicas[0]!;
      const survivors = replicas.filter((replica) => replica !== victim);

      const publishers = await Promise.all(Array.from({ length: PUBLISHERS }, (_, i) => onlineNode(replicas[i % REPLICAS]!, `kill-pi-${i}`, token)));
      const silent = await onlineNode(replicas[1]!, "kill-pi-silent", token);
      const heartbeating = [...publishers, silent];
      const heartbeatSeqs = new Map(heartbeating.map(({ node }) => [node.nodeId, 0]));
      const beat = ({ node, client }: { node: TestNode; client: MqttClient }) => {
        const seq = heartbeatSeqs.get(node.nodeId)! + 1;
        heartbeatSeqs.set(node.nodeId, seq);
        client.publish(nodeTopic(node.nodeId, "heartbeat"), heartbeat(seq), { qos: HEARTBEAT_QOS });
      };
      const heartbeatTimers = new Map(heartbeating.map((n) => [n.node.nodeId, setInterval(() => beat(n), 1000)]));
      const stopHeartbeats = (nodeId: string) => clearInterval(heartbeatTimers.get(nodeId));
      try {
        heartbeating.forEach(beat);
        const healthOn = async (replica: HubReplica, nodeId: string) => (await replica.api("GET", `/federation/nodes/${nodeId}`)).body?.health;
        await eventually(
          async () => {
            for (const replica of replicas) if (["offline", undefined].includes((await healthOn(replica, silent.node.nodeId))?.state)) return false;
            return true;
          },
          INGEST_BOUND_MS,
          () => `${silent.node.nodeId} heard from (not offline) on every replica\n${hubs.outputs()}`,
        );

        // Registrations, one at a time, round-robin, until the verdicts are through; one that fails (the dead replica refuses, or dies mid-answer) goes to the next replica.
        const acknowledgedRegistrations: string[] = [];
        let registering = true;
        const registrations = (async () => {
          for (let k = 0, turn = 0; registering && k < MAX_REGISTRATIONS; k++) {
            const node = newNode(`kill-reg-${k}`);
            for (let attempt = 0; attempt < REPLICAS * 3 && registering; attempt++, turn++) {
              const answer = await register(replicas[turn % REPLICAS]!, node, token).catch(() => null);
              if (answer && (answer.status === 201 || answer.status === 200)) {
                acknowledgedRegistrations.push(node.nodeId);
                break;
              }
            }
          }
        })();

        // Verdicts 1..VERDICTS per publisher at a steady rate; the victim is killed once node 0 has the PUBACK of seq KILL_AFTER_SEQ.
        let killedAt = 0;
        const kill = () =>
          victim.kill("SIGKILL").then(() => {
            killedAt = Date.now();
            stopHeartbeats(silent.node.nodeId);
          });
        const published = Promise.all(
          publishers.map(
            ({ node, client }, i) =>
              new Promise<void>((resolve, reject) => {
                let seq = 0;
                let pubacks = 0;
                const timer = setInterval(() => {
                  const current = ++seq;
                  if (current >= VERDICTS) clearInterval(timer);
                  client.publish(nodeTopic(node.nodeId, "verdicts"), verdictOf(current), { qos: 1 }, (error) => {
                    if (error) return reject(error);
                    if (i === 0 && current === KILL_AFTER_SEQ) void kill();
                    if (++pubacks === VERDICTS) resolve();
                  });
                }, VERDICT_EVERY_MS);
              }),
          ),
        );

        await eventually(() => killedAt > 0, INGEST_BOUND_MS, `${victim.hubId} killed once node 0 had the PUBACK of its seq ${KILL_AFTER_SEQ}`);
        let healthSeen: Record<string, unknown> = {};
        await eventually(
          async () => {
            healthSeen = {};
            for (const replica of survivors) healthSeen[replica.hubId] = await healthOn(replica, silent.node.nodeId);
            return survivors.every((replica) => (healthSeen[replica.hubId] as { state?: string } | undefined)?.state === "offline");
          },
          OFFLINE_AFTER_S * 1000 + SWEEP_HANDOVER_MS,
          () => `${silent.node.nodeId}, silent since the kill, offline on every surviving replica within ${OFFLINE_AFTER_S} s + 10 s: ${JSON.stringify(healthSeen)}\n${hubs.outputs()}`,
        );
        expect(Object.values(healthSeen).map((health) => (health as { cause: string }).cause)).toEqual(survivors.map(() => expect.stringMatching(/^silent for/)));
        const silentOfflineAfterMs = Date.now() - killedAt;
        // The publishers kept heartbeating through the kill: none of them is offline on a survivor.
        for (const replica of survivors) {
          for (const { node } of publishers) expect({ replica: replica.hubId, node: node.nodeId, state: (await healthOn(replica, node.nodeId))?.state }).not.toMatchObject({ state: "offline" });
        }

        await published;
        registering = false;
        await registrations;
        expect(acknowledgedRegistrations.length).toBeGreaterThan(0);

        const nodeIds = publishers.map(({ node }) => node.nodeId);
        /** Every verdict the broker acknowledged counted once, every acknowledged registration known: in the registry and to each of `readers`. */
        const nothingLost = async (readers: HubReplica[]) => {
          await registryHolds(nodeIds, VERDICTS);
          for (const nodeId of nodeIds) await expectExactVerdicts(nodeId, VERDICTS, { byVerdictOf: true });
          const known = await registry.nodes.existing(acknowledgedRegistrations);
          expect(acknowledgedRegistrations.filter((nodeId) => !known.has(nodeId))).toEqual([]);
          for (const replica of readers) {
            const statuses = await Promise.all(acknowledgedRegistrations.map(async (nodeId) => (await replica.api("GET", `/federation/nodes/${nodeId}`)).status));
            expect({ replica: replica.hubId, notFound: acknowledgedRegistrations.filter((_, i) => statuses[i] !== 200) }).toEqual({ replica: replica.hubId, notFound: [] });
          }
          for (const nodeId of nodeIds) await everyReplicaAgrees(nodeId);
        };
        // The dead replica's share (what the broker had queued for its session, what it had taken without its PUBACK going out) is taken over by the live ones.
        await nothingLost(survivors);
        // Started again under its id, it counts nothing twice and answers as the others do.
        await victim.restart();
        await nothingLost(replicas);
        console.log(`replicas: ${acknowledgedRegistrations.length} registrations acknowledged around the kill; the silent node offline on the survivors ${silentOfflineAfterMs} ms after it`);
      } finally {
        for (const timer of heartbeatTimers.values()) clearInterval(timer);
      }
    }, 120_000);
  });
}
