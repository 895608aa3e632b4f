// Two hub replicas' fleet views (fleet.ts, ordered-write.ts) on one real
// PostgreSQL registry, driven through ingest message by message, without
// brokers: which replica hears what, and when each writes, is the test's to
// choose. Verdicts and closes count once whoever heard them, heartbeats add
// up, health transitions are recorded once and judged from what both heard.
import { describe, expect, test } from "bun:test";
import postgres from "postgres";
import type { CloseMessage } from "../../protocol/messages.ts";
import { nodeTopic } from "../../protocol/topics.ts";
import { heartbeatMessage, verdictMessage } from "../../test/fixtures/node-messages.ts";
import { registeredNode } from "../../test/fixtures/node-record.ts";
import { reportedPortfolio } from "../../test/fixtures/portfolio.ts";
import { postgresForThisFile, postgresUnavailable } from "../../test/support/postgres.ts";
import { Ingest, type IngestHooks } from "../ingest/ingest.ts";
import { eventually } from "../../test/support/hub-harness.ts";
import { SEQUENCES_KEPT_MS, type HubStore, type NodeFederationEvent } from "../store/hub-store.ts";
import { Fleet, PruneFailed } from "./fleet.ts";

const T0 = 1_700_000_000_000;
const RULES = { heartbeatMs: 1000, offlineAfterMs: 10_000, degradedLoad: 4, listeningSince: T0 };

/** Ingest's hooks for what these tests never send (acks, work messages). */
const NO_HOOKS: IngestHooks = {
  onAck: async () => "not in this test",
  onBirth: () => {},
  onWorkProgress: async () => "not in this test",
  onWorkResult: async () => "not in this test",
};

interface Replica {
  fleet: Fleet;
  /** Hands the replica a node message at `now` (the hub's clock). */
  hear(kind: "heartbeat" | "verdicts" | "closes" | "state" | "portfolio", message: object, now: number): void;
  events: NodeFederationEvent[];
}

const unavailable = postgresUnavailable();

if (unavailable) {
  describe.skip(`replica fleets (${unavailable})`, () => test("replicas", () => {}));
} else {
  const registries = postgresForThisFile();

  /** A registry with `nodeIds` registered at T0, and two replicas started on it, each with a connection of its own; `a` leads. */
  async function twoReplicas(nodeIds: string[]): Promise<{ a: Replica; b: Replica; registry: HubStore; url: string }> {
    const url = await registries.server().freshRegistryUrl();
    const registry = await registries.openStore(url);
    await registry.write(async (tx) => {
      for (const id of nodeIds) await tx.nodes.save(registeredNode(id, T0));
    });
    const replica = async (leads: boolean): Promise<Replica> => {
      const store = await registries.openStore(url);
      let clock = T0;
      const fleet = await Fleet.load(store, RULES, () => clock, () => leads);
      const events: NodeFederationEvent[] = [];
      fleet.onEvent((event) => events.push(event));
      const ingest = new Ingest(fleet, NO_HOOKS, () => {}, () => clock);
      return {
        fleet,
        events,
        hear(kind, message, now) {
          clock = now;
          ingest.handle(nodeTopic("pi-1", kind), Buffer.from(JSON.stringify(message)), false);
        },
      };
    };
    return { a: await replica(true), b: await replica(false), registry, url };
  }

  const close = (seq: number): CloseMessage => ({ seq, symbol: "BTCUSDT", ts: T0 + seq, pnl_usd: seq });

  describe("two replicas on one registry", () => {
    test("verdicts and closes heard by either, out of order and again, count once: exact tally, one event each, late fills close the gap", async () => {
      const { a, b, registry } = await twoReplicas(["pi-1"]);
      a.hear("verdicts", verdictMessage(2, T0), T0 + 1);
      b.hear("verdicts", verdictMessage(1, T0), T0 + 1);
      await Promise.all([a.fleet.commit("pi-1"), b.fleet.commit("pi-1")]);
      a.hear("verdicts", verdictMessage(1, T0), T0 + 2); // a redelivery, first heard on b
      b.hear("verdicts", verdictMessage(5, T0, "HOLD", ["edge"]), T0 + 2);
      a.hear("closes", close(2), T0 + 2);
      b.hear("closes", close(2), T0 + 2);
      await Promise.all([a.fleet.commit("pi-1"), b.fleet.commit("pi-1")]);
      expect((await registry.nodes.get("pi-1"))!.live.verdicts).toEqual({ lastSeq: 5, byVerdict: { PASS: 2, HOLD: 1 }, byReason: { edge: 1 }, duplicates: 1, missing: 2 });

      a.hear("verdicts", verdictMessage(4, T0), T0 + 3); // late fills
      b.hear("verdicts", verdictMessage(3, T0), T0 + 3);
      b.hear("closes", close(1), T0 + 3);
      await a.fleet.commit("pi-1");
      await b.fleet.commit("pi-1");
      const stored = (await registry.nodes.get("pi-1"))!.live;
      expect(stored.verdicts).toMatchObject({ lastSeq: 5, byVerdict: { PASS: 4, HOLD: 1 }, duplicates: 1, missing: 0 });
      expect(stored.closes).toEqual({ lastSeq: 2, count: 2, duplicates: 1, missing: 0 });
      // Each replica told its listeners of what it counted, and the registry holds one event per verdict and close.
      const seqs = (events: NodeFederationEvent[]) => events.flatMap((e) => (e.type === "verdict" ? [`verdict ${e.event.seq}`] : e.type === "close" ? [`close ${e.close.symbol}`] : []));
      expect(seqs(a.events).concat(seqs(b.events)).length).toBe(7);
      const storedEvents = await registry.federationEvents.list({ node: "pi-1", limit: 100 });
      expect(storedEvents.filter((e) => e.event.type === "verdict").map((e) => (e.event as { event: { seq: number } }).event.seq).sort()).toEqual([1, 2, 3, 4, 5]);
      expect(storedEvents.filter((e) => e.event.type === "close").length).toBe(2);
      // Both views learn the stored tally with their next write.
      expect(b.fleet.get("pi-1")!.live.verdicts.missing).toBe(0);
      // The minute closed: each replica's share of its metric bucket (what it counted new) adds up in the registry.
      await a.fleet.flush(T0 + 120_000);
      await b.fleet.flush(T0 + 120_000);
      const [bucket] = await registry.metricBuckets.list("pi-1", 0);
      expect(bucket).toMatchObject({ verdicts: { PASS: 4, HOLD: 1 }, byReason: { edge: 1 } });
    });

    test("a strategy report redelivered to the other replica is kept once; one dated before the latest, first heard, joins the history and the latest stays", async () => {
      const { a, b, registry } = await twoReplicas(["pi-1"]);
      a.hear("portfolio", reportedPortfolio(T0 + 20), T0 + 25);
      await a.fleet.commit("pi-1");
      b.hear("portfolio", reportedPortfolio(T0 + 20), T0 + 30); // the broker's redelivery, on b
      b.hear("portfolio", reportedPortfolio(T0 + 10), T0 + 30); // sent before it, heard after it
      await b.fleet.commit("pi-1");
      const history = await registry.reports.history("pi-1", "portfolio", { limit: 10 });
      expect(history.map((r) => r.report.ts).sort()).toEqual([T0 + 10, T0 + 20]);
      const stored = (await registry.nodes.get("pi-1"))!.live.reports;
      expect({ latest: stored.portfolio?.report.ts, duplicates: stored.duplicates }).toEqual({ latest: T0 + 20, duplicates: 1 });
      const events = await registry.federationEvents.list({ node: "pi-1", limit: 10 });
      expect(events.filter((e) => e.event.type === "portfolio").length).toBe(2);
    });

    test("a commit and a flush of one node in flight together write each heartbeat once", async () => {
      const { a, registry } = await twoReplicas(["pi-1"]);
      for (let seq = 1; seq <= 3; seq++) a.hear("heartbeat", heartbeatMessage(seq, T0 + seq), T0 + seq);
      const committing = a.fleet.commit("pi-1");
      for (let seq = 4; seq <= 5; seq++) a.hear("heartbeat", heartbeatMessage(seq, T0 + seq), T0 + seq);
      await Promise.all([committing, a.fleet.flush(T0 + 6)]);
      await a.fleet.flush(T0 + 7);
      expect((await registry.nodes.get("pi-1"))!.live).toMatchObject({ heartbeats: 5, heartbeatSeq: 5, heartbeatSeqGaps: 0 });
      expect(a.fleet.get("pi-1")!.live.heartbeats).toBe(5);
    });

    test("a write that fails while a later one of the node is in flight loses no heartbeat: the next write carries its counts", async () => {
      const { a, registry, url } = await twoReplicas(["pi-1"]);
      // The registry refuses the first node write it gets, once (a sequence is not rolled back with the write).
      const sql = postgres(url, { onnotice: () => {} });
      await sql.unsafe(`
        CREATE SEQUENCE node_writes_seen;
        CREATE FUNCTION refuse_first_node_write() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN IF nextval('node_writes_seen') = 1 THEN RAISE EXCEPTION 'the first node write is refused'; END IF; RETURN NEW; END $$;
        CREATE TRIGGER refuse_first_node_write BEFORE UPDATE ON nodes FOR EACH ROW EXECUTE FUNCTION refuse_first_node_write();`);
      await sql.end();
      for (let seq = 1; seq <= 3; seq++) a.hear("heartbeat", heartbeatMessage(seq, T0 + seq), T0 + seq);
      const first = a.fleet.flush(T0 + 4);
      for (let seq = 4; seq <= 5; seq++) a.hear("heartbeat", heartbeatMessage(seq, T0 + seq), T0 + seq);
      const second = a.fleet.flush(T0 + 6); // taken while the first is in flight
      // Whichever reaches the row first is refused (mostly the first: the case that lost counts before).
      const outcomes = await Promise.allSettled([first, second]);
      expect(outcomes.filter(({ status }) => status === "rejected")).toHaveLength(1);
      await a.fleet.flush(T0 + 7);
      expect((await registry.nodes.get("pi-1"))!.live).toMatchObject({ heartbeats: 5, heartbeatSeq: 5, heartbeatSeqGaps: 0 });
      expect(a.fleet.get("pi-1")!.live.heartbeats).toBe(5);
    });

    test("only the leader prunes old sequence numbers and metric buckets; a follower's flush leaves them", async () => {
      const { a, b, url } = await twoReplicas(["pi-1"]);
      a.hear("verdicts", verdictMessage(1, T0), T0 + 1);
      await a.fleet.commit("pi-1");
      await a.fleet.flush(T0 + 120_000); // the minute's bucket closes
      const sql = postgres(url, { onnotice: () => {} });
      const kept = async () => (await sql`SELECT (SELECT count(*) FROM node_sequences)::int AS sequences, (SELECT count(*) FROM node_metric_buckets)::int AS buckets`)[0];
      try {
        expect(await kept()).toEqual({ sequences: 1, buckets: 1 });
        const later = T0 + SEQUENCES_KEPT_MS + 3_600_000;
        b.hear("heartbeat", heartbeatMessage(1, later), later);
        await b.fleet.flush(later);
        expect(await kept()).toEqual({ sequences: 1, buckets: 1 });
        a.hear("heartbeat", heartbeatMessage(2, later), later);
        await a.fleet.flush(later);
        expect(await kept()).toEqual({ sequences: 0, buckets: 0 });
      } finally {
        await sql.end();
      }
    });

    test("a failed pruning after the leader's flush is told apart from a failed write: the live state is written", async () => {
      const { a, registry, url } = await twoReplicas(["pi-1"]);
      await a.fleet.flush(T0 + 120_000); // the first prune turn
      const sql = postgres(url, { onnotice: () => {} });
      try {
        await sql`ALTER TABLE node_sequences RENAME TO node_sequences_away`;
        const later = T0 + SEQUENCES_KEPT_MS + 3_600_000;
        a.hear("heartbeat", heartbeatMessage(1, later), later);
        await expect(a.fleet.flush(later)).rejects.toBeInstanceOf(PruneFailed);
        expect((await registry.nodes.get("pi-1"))!.live.heartbeats).toBe(1);
      } finally {
        await sql`ALTER TABLE node_sequences_away RENAME TO node_sequences`;
        await sql.end();
      }
    });

    test("the health sweep skips a tick while one runs, and does not take health read before this replica's newer write", async () => {
      const { a, b, url } = await twoReplicas(["pi-1"]);
      let reads = 0;
      const recency = b.fleet["store"].nodes.recency.bind(b.fleet["store"].nodes);
      b.fleet["store"].nodes.recency = () => (reads++, recency());
      await Promise.all([b.fleet.sweepShared(T0 + 100, false), b.fleet.sweepShared(T0 + 100, false)]);
      expect(reads).toBe(1);
      // a's write turns the node healthy; the registry then holds an older health (as a read that began before the write would).
      a.hear("heartbeat", heartbeatMessage(1, T0 + 100, { load: [0, 0, 0] }), T0 + 100);
      await a.fleet.flush(T0 + 100);
      expect(a.fleet.get("pi-1")!.health).toBe("healthy");
      const sql = postgres(url, { onnotice: () => {} });
      await sql`UPDATE nodes SET health = 'offline', health_since = ${T0 + 50} WHERE node_id = 'pi-1'`;
      await sql.end();
      await a.fleet.sweepShared(T0 + 200, false);
      expect(a.fleet.get("pi-1")!.health).toBe("healthy");
    });

    test("a write takes the node rows' locks before it touches health_transitions (the lock order every replica keeps)", async () => {
      const { a, registry, url } = await twoReplicas(["pi-1"]);
      // A registration on this replica: its first transition is pending for the next write.
      const node = registeredNode("pi-2", T0);
      await registry.write((tx) => tx.nodes.save(node));
      a.fleet.put(node);
      const sql = postgres(url, { onnotice: () => {} });
      let release = () => {};
      const held = new Promise<void>((resolve) => (release = resolve));
      let rowHeld = () => {};
      const holding = sql.begin(async (tx) => {
        await tx`SELECT 1 FROM nodes WHERE node_id = 'pi-2' FOR UPDATE`; // another replica's write of the node
        rowHeld();
        await held;
      });
      try {
        await new Promise<void>((resolve) => (rowHeld = resolve));
        const writing = a.fleet.flush(T0 + 1);
        const waiting = await eventually(async () => (await sql`SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()`)[0]?.pid, 5000, "the write waiting for the row");
        const [touched] = await sql`SELECT count(*)::int AS locks FROM pg_locks WHERE pid = ${waiting} AND relation = 'health_transitions'::regclass`;
        expect(touched!.locks).toBe(0);
        release();
        await writing;
      } finally {
        release();
        await holding;
        await sql.end();
      }
      expect((await registry.nodes.latestTransitions(10)).get("pi-2")!.map((t) => t.to)).toEqual(["offline"]);
    });

    test("heartbeats split between the replicas add up, the newest stays whoever writes last, and the node turns healthy once", async () => {
      const { a, b, registry } = await twoReplicas(["pi-1"]);
      for (let seq = 1; seq <= 10; seq++) (seq % 3 === 0 ? a : b).hear("heartbeat", heartbeatMessage(seq, T0 + seq * 100, { load: [0, 0, 0] }), T0 + seq * 100);
      await b.fleet.flush(T0 + 1000);
      await a.fleet.flush(T0 + 1000); // a heard an older last heartbeat (9) than b (10)
      const stored = await registry.nodes.get("pi-1");
      expect(stored!.live).toMatchObject({ heartbeats: 10, heartbeatSeq: 10, heartbeatTs: T0 + 1000, heartbeatSeqGaps: 0 });
      expect(stored!.health).toBe("healthy");
      const transitions = (await registry.nodes.latestTransitions(10)).get("pi-1")!;
      expect(transitions.map((t) => `${t.from}->${t.to}`)).toEqual(["offline->healthy"]); // b decided it; a found it stored
      expect([a.fleet.get("pi-1")!.health, b.fleet.get("pi-1")!.health]).toEqual(["healthy", "healthy"]);
    });

    test("a replica whose view is stale cannot bring back a node another replica heard go offline", async () => {
      const { a, b, registry } = await twoReplicas(["pi-1"]);
      b.hear("heartbeat", heartbeatMessage(1, T0 + 100, { load: [0, 0, 0] }), T0 + 100);
      await b.fleet.flush(T0 + 100);
      a.hear("state", { state: "offline", bootId: "boot-1", ts: T0 + 200 }, T0 + 200); // its last will, on a
      await a.fleet.flush(T0 + 200);
      // b still has the node online from its own heartbeat, and writes a verdict it heard before the will.
      b.hear("verdicts", verdictMessage(1, T0 + 150), T0 + 150);
      await b.fleet.commit("pi-1");
      const stored = await registry.nodes.get("pi-1");
      expect(stored).toMatchObject({ health: "offline", live: { state: "offline", verdicts: { lastSeq: 1 } } });
      const transitions = (await registry.nodes.latestTransitions(10)).get("pi-1")!;
      expect(transitions.map((t) => `${t.from}->${t.to}`)).toEqual(["healthy->offline", "offline->healthy"]);
      expect(b.fleet.get("pi-1")!.health).toBe("offline"); // and b's view learnt it
    });

    test("the sweep judges from what both heard: a replica that heard no heartbeat keeps a live node healthy, and a silent node goes offline once", async () => {
      const { a, b, registry } = await twoReplicas(["pi-1"]);
      a.hear("heartbeat", heartbeatMessage(1, T0 + 100, { load: [0, 0, 0] }), T0 + 100);
      await a.fleet.flush(T0 + 100);
      // b heard nothing: by its own memory the node was never heard from; by the registry it is healthy.
      expect(await b.fleet.sweepShared(T0 + 500)).toBe(0);
      expect(b.fleet.get("pi-1")!.health).toBe("healthy");
      // Silent past offlineAfterMs: both sweep, one records the transition.
      const changed = await Promise.all([a.fleet.sweepShared(T0 + 20_000), b.fleet.sweepShared(T0 + 20_000)]);
      expect(changed[0] + changed[1]).toBe(1);
      const transitions = (await registry.nodes.latestTransitions(10)).get("pi-1")!;
      expect(transitions.map((t) => `${t.from}->${t.to}`)).toEqual(["healthy->offline", "offline->healthy"]);
      const healthEvents = [...a.events, ...b.events].filter((e) => e.type === "node_health");
      expect(healthEvents.map((e) => (e as { state: string }).state)).toEqual(["healthy", "offline"]);
    });
  });
}
