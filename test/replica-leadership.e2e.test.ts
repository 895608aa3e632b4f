// The work only one hub replica may do (issue 16), with three in-process
// replicas on a real Mosquitto (dynamic security, shared subscriptions) and
// one PostgreSQL registry: one replica leads (/health, /metrics say which);
// stopping it hands the duties to another within seconds; the webhook's
// outbox, shared by all, is posted by the leader only, each alert once across
// a handover. A replica that died leaves its broker session queueing its
// share of node messages: the leader applies them and ends that session.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import mqtt from "mqtt";
import postgresClient from "postgres";
import type { WebhookPost } from "../hub/alerting/webhook-sender.ts";
import { hubClientId } from "../hub/broker/broker-access.ts";
import { createEnrollmentToken } from "../hub/identity/enrollment-tokens.ts";
import { SHARED_INGEST_FILTERS } from "../hub/mqtt/hub-mqtt.ts";
import { AdvisoryLockLeadership, LEADER_DUTIES } from "../hub/replicas/leadership.ts";
import { CONFIRM_GONE_MS, TAKEOVER_EVERY_MS } from "../hub/replicas/session-takeover.ts";
import { HUB_STATE_TOPIC, nodeTopic } from "../protocol/topics.ts";
import { removeTempDirs } from "./helpers.ts";
import { eventually, newNode, registerBody, startTestHub, type TestHub } from "./support/hub-harness.ts";
import { startMosquitto, type RunningMosquitto } from "./support/mosquitto.ts";
import { POSTGRES_START_BOUND_MS, postgresUnavailable, startPostgres, type RunningPostgres } from "./support/postgres.ts";
import { parsePrometheusText, sampleValue } from "./support/prometheus-text.ts";
import { startWebhookSink, type WebhookSink } from "./support/webhook-sink.ts";

/** A handover: the server frees the lock at once, the others try every second. */
const HANDOVER_BOUND_MS = 10_000;
/** A webhook post's timeout here; a new leader waits it (and a margin) before posting. */
const WEBHOOK_TIMEOUT_MS = 2000;
/** A dead replica's session taken over: its lock seen free on a look, and again on a look CONFIRM_GONE_MS later, then the takeover. */
const TAKEOVER_BOUND_MS = CONFIRM_GONE_MS + 2 * TAKEOVER_EVERY_MS + HANDOVER_BOUND_MS;
const unavailable = postgresUnavailable();

if (unavailable) {
  describe.skip(`replica leadership (${unavailable})`, () => test("leadership", () => {}));
} else {
  let postgres: RunningPostgres;
  let mosquitto: RunningMosquitto;
  const running: { stop(): Promise<void> }[] = [];

  beforeAll(async () => {
    [postgres, mosquitto] = await Promise.all([startPostgres(), startMosquitto({ dynsec: true })]);
  }, POSTGRES_START_BOUND_MS);
  afterEach(async () => {
    for (const thing of running.splice(0).reverse()) await thing.stop().catch(() => {});
  });
  afterAll(async () => {
    await mosquitto?.stop();
    await postgres?.stop();
    removeTempDirs();
  });

  /** Three replicas on a fresh registry; ids unique to the test (Mosquitto keeps sessions between tests). */
  async function replicas(prefix: string, env: Record<string, string> = {}): Promise<TestHub[]> {
    const url = await postgres.freshRegistryUrl();
    const hubs: TestHub[] = [];
    for (const id of ["a", "b", "c"]) {
      const hub = await startTestHub({ mosquitto, env: { EDGEFED_DATABASE_URL: url, EDGEFED_HUB_ID: `${prefix}-${id}`, EDGEFED_SHARED_SUBSCRIPTIONS: "1", ...env } });
      running.push(hub);
      hubs.push(hub);
    }
    return hubs;
  }

  const leads = async (hub: TestHub): Promise<string[]> => ((await (await hub.fetch("/health")).json()) as { leads: string[] }).leads;

  /** The one replica of `hubs` that leads, once exactly one does. */
  async function theLeader(hubs: TestHub[]): Promise<TestHub> {
    return eventually(
      async () => {
        const leading = [];
        for (const hub of hubs) if ((await leads(hub)).length > 0) leading.push(hub);
        return leading.length === 1 ? leading[0] : undefined;
      },
      HANDOVER_BOUND_MS,
      "exactly one replica leading",
    );
  }

  /** A model report (QoS 1, each one stored), of a model of its own (a model's reports arriving out of order count as redeliveries). */
  const modelReport = (n: number) =>
    JSON.stringify({ model_name: `m-${n}`, sharpe_ratio: 1, win_rate: 0.5, profit_factor: 1.4, total_trades: n, days_since_training: 1, ts: Date.now() + n });

  /**
   * What a replica killed with -9 leaves: its id on record with its lock
   * taken, and a broker session in the hubs' shared group that lives on,
   * its connection dropped without a DISCONNECT. `die()` frees the lock as
   * the server does when the process goes.
   */
  async function replicaThatWillDie(url: string, replicaId: string): Promise<{ die(): Promise<void>; hubStates: string[] }> {
    // What nodes hear on hub/state from here on (the retained one first).
    const hubStates: string[] = [];
    const watcher = await mqtt.connectAsync(mosquitto.url, { ...asAdmin(), clientId: `hub-state-watcher-${replicaId}`, reconnectPeriod: 0 });
    watcher.on("message", (_topic, payload) => hubStates.push(JSON.parse(payload.toString()).state));
    await watcher.subscribeAsync(HUB_STATE_TOPIC, { qos: 1 });
    running.push({ stop: () => watcher.endAsync(true) });
    const lock = await AdvisoryLockLeadership.start({ databaseUrl: url, replicaId, log: () => {}, idWaitMs: 0 });
    const session = await mqtt.connectAsync(mosquitto.url, {
      ...asAdmin(),
      clientId: hubClientId("ingest", replicaId),
      // A hub's last will: the broker says hub/state offline (retained) when its connection drops.
      will: { topic: HUB_STATE_TOPIC, payload: Buffer.from(JSON.stringify({ state: "offline", ts: Date.now() })), qos: 1, retain: true },
      protocolVersion: 5,
      clean: false,
      properties: { sessionExpiryInterval: 0xffff_ffff },
      reconnectPeriod: 0,
    });
    await session.subscribeAsync(SHARED_INGEST_FILTERS, { qos: 1 });
    const closed = new Promise<void>((resolve) => session.once("close", () => resolve()));
    session.stream.destroy();
    await closed;
    await session.endAsync(true);
    return { die: () => lock.stop(), hubStates };
  }

  /** The broker's admin credentials and trust, for clients of the test's own. */
  const asAdmin = () => ({ username: mosquitto.admin!.username, password: mosquitto.admin!.password, ca: mosquitto.ca ?? undefined });

  /** What a fresh subscriber to hub/state gets (the retained message): what a node connecting now is told. */
  async function retainedHubState(): Promise<string> {
    const reader = await mqtt.connectAsync(mosquitto.url, { ...asAdmin(), clientId: `hub-state-reader-${Math.random()}`, reconnectPeriod: 0 });
    try {
      const got = new Promise<string>((resolve) => reader.once("message", (_topic, payload) => resolve(JSON.parse(payload.toString()).state)));
      await reader.subscribeAsync(HUB_STATE_TOPIC, { qos: 1 });
      return await got;
    } finally {
      await reader.endAsync(true);
    }
  }

  async function stopReplica(hubs: TestHub[], hub: TestHub): Promise<TestHub[]> {
    await hub.stop();
    running.splice(running.indexOf(hub), 1);
    return hubs.filter((other) => other !== hub);
  }

  describe("replica leadership", () => {
    test("one of three replicas runs every leader's duty (/health, /metrics); stopping it, or the server closing its lock connection, hands them to another within seconds", async () => {
      const hubs = await replicas("lead");
      const leader = await theLeader(hubs);
      expect(await leads(leader)).toEqual([...LEADER_DUTIES]);
      for (const hub of hubs) {
        const metrics = parsePrometheusText(await (await hub.fetch("/metrics", { headers: { authorization: `Bearer ${hub.adminToken}` } })).text());
        for (const duty of LEADER_DUTIES) expect(sampleValue(metrics, "edgefed_replica_leader", { duty })).toBe(hub === leader ? 1 : 0);
      }
      const rest = await stopReplica(hubs, leader);
      const next = await theLeader(rest);
      expect(await leads(next)).toEqual([...LEADER_DUTIES]);

      // The server closes the new leader's lock connection (as when its host drops off the network): it stops leading, the other takes over.
      const admin = postgresClient(postgres.url, { max: 1, onnotice: () => {} });
      try {
        await admin`SELECT pg_terminate_backend(${(next.hub.context.leadership as AdvisoryLockLeadership).backendPid})`;
      } finally {
        await admin.end();
      }
      const third = await eventually(async () => {
        const leader = await theLeader(rest);
        return leader !== next ? leader : undefined;
      }, HANDOVER_BOUND_MS, "the other replica leading");
      expect(await leads(third)).toEqual([...LEADER_DUTIES]);
      expect(await leads(next)).toEqual([]);
    }, 4 * HANDOVER_BOUND_MS);

    test("the shared webhook outbox is posted by the leader only: each alert once, across a handover", async () => {
      const sink = startWebhookSink();
      running.push(sink);
      let hubs = await replicas("hook", { EDGEFED_ALERT_WEBHOOK_URL: sink.url, EDGEFED_ALERT_WEBHOOK_RETRY_MS: "50", EDGEFED_ALERT_WEBHOOK_TIMEOUT_MS: String(WEBHOOK_TIMEOUT_MS) });
      const raise = (hub: TestHub, subject: string) => hub.hub.context.alerts.raise({ severity: "high", kind: "node_offline", subject, message: `${subject} is offline`, at: Date.now() });
      const leader = await theLeader(hubs);
      const others = hubs.filter((hub) => hub !== leader);
      sink.delayMs = 800; // each post stays in flight a while
      const first = await raise(leader, "pi-first");
      await eventually(() => sink.requests.some((request) => request.post.seq === first.seq), HANDOVER_BOUND_MS, "the leader posting the first alert");
      // Queued on another replica while the first post is in flight: that replica must not post the outbox itself.
      const second = await raise(others[0]!, "pi-second");
      hubs = await stopReplica(hubs, leader); // lets its post in flight finish and be recorded, then gives the lock up
      const next = await theLeader(hubs);
      const third = await raise(next, "pi-third");

      const seqs = [first.seq, second.seq, third.seq];
      expect(new Set(seqs).size).toBe(3);
      await eventually(() => seqs.every((seq) => sink.delivered().some((post) => post.seq === seq)), 3 * HANDOVER_BOUND_MS, "all three alerts posted");
      await eventually(async () => (await next.hub.context.store.alerts.outbox(10)).length === 0, HANDOVER_BOUND_MS, "the outbox empty");
      const postsOf = (seq: number): WebhookPost[] => sink.requests.filter((request) => request.post.seq === seq).map((request) => request.post);
      expect(seqs.map((seq) => postsOf(seq).length)).toEqual([1, 1, 1]);
      expect(postsOf(second.seq)[0]).toMatchObject({ subject: "pi-second", dedup_key: "node_offline:pi-second" });
    }, 6 * HANDOVER_BOUND_MS);

    test("a dead replica's queued QoS 1 messages are applied by the leader, and its share then goes to the live replica", async () => {
      const url = await postgres.freshRegistryUrl();
      const live = await startTestHub({ mosquitto, env: { EDGEFED_DATABASE_URL: url, EDGEFED_HUB_ID: "share-live", EDGEFED_SHARED_SUBSCRIPTIONS: "1" } });
      running.push(live);
      const node = newNode("share-pi-1");
      const registered = await live.api("POST", "/federation/register", registerBody(node), await createEnrollmentToken(live.hub.context.store, { uses: 1, ttlMs: 3_600_000, label: "replicas" }, Date.now()));
      expect(registered.status).toBe(201);
      const dead = await replicaThatWillDie(url, "share-dead");
      const client = await live.connectNode(registered.body.mqtt);
      running.push({ stop: () => client.endAsync(true) });
      const REPORTS = 20;
      for (let n = 1; n <= REPORTS; n++) await client.publishAsync(nodeTopic(node.nodeId, "models"), modelReport(n), { qos: 1 });
      const stored = async () => (await live.hub.context.store.reports.history(node.nodeId, "models", { limit: 100 })).length;
      // Round robin: the dead replica's session holds its share meanwhile.
      await eventually(async () => (await stored()) > 0, HANDOVER_BOUND_MS, "the live replica's share stored");
      expect(await stored()).toBeLessThan(REPORTS);

      // Its last will said the hub is offline; the live replica says online again at once (nodes stay out of simulation mode).
      await eventually(() => dead.hubStates.lastIndexOf("online") > dead.hubStates.indexOf("offline") && dead.hubStates.includes("offline"), HANDOVER_BOUND_MS, () => `hub/state online again after the dead replica's will (heard: ${dead.hubStates.join(", ")})`);
      expect(await retainedHubState()).toBe("online");
      await dead.die();
      await eventually(async () => (await stored()) === REPORTS, TAKEOVER_BOUND_MS, () => `all ${REPORTS} reports stored`);
      // Its session is ended: every later message reaches the live replica.
      for (let n = REPORTS + 1; n <= 2 * REPORTS; n++) await client.publishAsync(nodeTopic(node.nodeId, "models"), modelReport(n), { qos: 1 });
      await eventually(async () => (await stored()) === 2 * REPORTS, HANDOVER_BOUND_MS, () => `all ${2 * REPORTS} reports stored`);
      const reports = await live.hub.context.store.reports.history(node.nodeId, "models", { limit: 100 });
      expect(reports.map((report) => (report.report as { total_trades: number }).total_trades).sort((a, b) => a - b)).toEqual(Array.from({ length: 2 * REPORTS }, (_, i) => i + 1));
    }, 3 * HANDOVER_BOUND_MS + TAKEOVER_BOUND_MS);

    test("a replica's clean stop ends its broker session: nothing is left queueing its share", async () => {
      const hubs = await replicas("clean");
      const stopped = hubs[1]!;
      await stopReplica(hubs, stopped);
      const clientId = hubClientId("ingest", stopped.settings.hubId);
      // Connecting under its client id without a clean start says whether the broker still keeps its session.
      const probe = mqtt.connect(mosquitto.url, {
        ...asAdmin(),
        clientId,
        protocolVersion: 5,
        clean: false,
        reconnectPeriod: 0,
      });
      const sessionPresent = await new Promise<boolean>((resolve, reject) => {
        probe.once("connect", (connack) => resolve(connack.sessionPresent));
        probe.once("error", reject);
      });
      await probe.endAsync(false, { properties: { sessionExpiryInterval: 0 } });
      expect(sessionPresent).toBe(false);
      // It said offline as it left, and the live replicas answered: the fleet still has a hub. The last one's offline stays.
      await eventually(async () => (await retainedHubState()) === "online", HANDOVER_BOUND_MS, "hub/state online while replicas live");
      for (const hub of hubs.filter((other) => other !== stopped)) await stopReplica(hubs, hub);
      expect(await retainedHubState()).toBe("offline");
    }, 4 * HANDOVER_BOUND_MS);

    test("a start that fails half-way (its HTTP port taken) releases the replica id: a start again with it goes through at once", async () => {
      const url = await postgres.freshRegistryUrl();
      const taken = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("taken") });
      const env = { EDGEFED_DATABASE_URL: url, EDGEFED_HUB_ID: "failed-start", EDGEFED_SHARED_SUBSCRIPTIONS: "1" };
      try {
        await expect(startTestHub({ mosquitto, env: { ...env, EDGEFED_HTTP_PORT: String(taken.port) } })).rejects.toThrow();
      } finally {
        taken.stop(true);
      }
      // Before the fix the id's lock stayed with the failed start's lock connection: refused after waiting 10 s.
      const hub = await startTestHub({ mosquitto, env });
      running.push(hub);
      expect(await leads(hub)).toEqual([...LEADER_DUTIES]);
    }, 2 * HANDOVER_BOUND_MS);
  });
}
