// What every backend of the hub's registry must do, as one suite:
// describeStoreContract(name, openStore) runs it against a backend.
// store-contract.test.ts runs it on SQLite files; a second backend
// (PostgreSQL) gets a test file that calls it with its own openStore.
// Everything goes through the HubStore interface, nothing through SQL.
import { afterEach, describe, expect, test } from "bun:test";
import type { DecisionMessage, DesiredPolicyMessage } from "../../protocol/messages.ts";
import { emptyLive, type HealthTransition, type NodeRecord } from "../nodes/node-model.ts";
import { REPORT_HISTORY, type ReportKind, type ReportOf } from "../../protocol/reports.ts";
import { registeredNode } from "../../test/fixtures/node-record.ts";
import { OPERATOR, type DecisionOrigin } from "../decisions/decision-origin.ts";
import type { ConflictRecord, KeptDecision } from "../federation/records.ts";
import {
  DEFAULT_STORE_BOUNDS,
  type AuditRecord,
  type OperatorRecord,
  TRANSITIONS_KEPT_PER_NODE,
  type DecisionSummary,
  type EnrollmentTokenRecord,
  type HubStore,
  type NodeSequence,
  type NodeFederationEvent,
  type ReportRecord,
  type StoreBounds,
  type StoredAlert,
  type StoredRoleMode,
  type Tombstone,
} from "./hub-store.ts";
import { describeWorkContract } from "./work-contract.ts";

/**
 * Opens a fresh, empty store with these bounds (the defaults when none are
 * given); `reopen` opens the same data again (as after a restart).
 */
export type OpenStore = (bounds?: StoreBounds) => Promise<{ store: HubStore; reopen(): Promise<HubStore> }>;

const NOW = 1_700_000_000_000;
const HOUR = 3_600_000;

/** A node registered at NOW: registration id reg_<id>, public key key-<id>. */
const node = (nodeId: string, overrides: Partial<NodeRecord> = {}): NodeRecord => registeredNode(nodeId, NOW, overrides);

function token(hash: string, overrides: Partial<EnrollmentTokenRecord> = {}): EnrollmentTokenRecord {
  return { hash, label: "", usesLeft: 1, expiresAt: NOW + HOUR, createdAt: NOW, createdBy: "admin", ...overrides };
}

function decision(seq: number, target: string, expiresAt = NOW + HOUR): DecisionMessage {
  return { id: `dec_${seq}`, seq, type: "OVERRIDE", target, payload: {}, issuedAt: NOW, expiresAt, sig: "sig" } as DecisionMessage;
}

function policy(version: number, target = "fleet"): DesiredPolicyMessage {
  return { target, version, issuedAt: NOW, policy: { max_leverage: version }, sig: "sig" } as DesiredPolicyMessage;
}

function flap(at: number, to: HealthTransition["to"]): HealthTransition {
  return { from: to === "healthy" ? "offline" : "healthy", to, at, cause: `flap at ${at}` };
}

function portfolio(ts: number): ReportOf["portfolio"] {
  const p = { total_equity: 1000 + ts - NOW, drawdown_pct: 0.01, max_drawdown_pct: 0.02, realized_pnl_today: 5, unrealized_pnl: -1 };
  return { ...p, num_positions: 1, total_exposure_usd: 500, win_rate_today: 0.5, sharpe_ratio_7d: 1.1, ts };
}

function modelReport(model_name: string, ts: number): ReportOf["models"] {
  return { model_name, sharpe_ratio: 1, win_rate: 0.5, profit_factor: 1.2, total_trades: 10, days_since_training: 1, ts };
}

function reported<K extends ReportKind>(nodeId: string, kind: K, report: ReportOf[K]): ReportRecord {
  return { nodeId, kind, report, receivedAt: report.ts + 5 };
}

export function describeStoreContract(name: string, openStore: OpenStore): void {
  const opened: HubStore[] = [];
  afterEach(async () => {
    for (const store of opened.splice(0)) await store.close().catch(() => {}); // a test may have closed it
  });

  async function open(bounds?: StoreBounds): Promise<{ store: HubStore; reopen(): Promise<HubStore> }> {
    const { store, reopen } = await openStore(bounds);
    opened.push(store);
    return {
      store,
      reopen: async () => {
        const again = await reopen();
        opened.push(again);
        return again;
      },
    };
  }
  const fresh = async () => (await open()).store;

  describe(`${name}: nodes`, () => {
    test("a saved node reads back whole; all() lists by id", async () => {
      const store = await fresh();
      const b = node("pi-b", { capabilities: ["kernel", "sim"], endpoint: "http://pi-b:8081", proofTs: NOW - 5 });
      await store.write(async (tx) => {
        await tx.nodes.save(b);
        await tx.nodes.save(node("pi-a"));
      });
      expect(await store.nodes.get("pi-b")).toEqual(b);
      expect(await store.nodes.get("pi-c")).toBeUndefined();
      expect((await store.nodes.all()).map((n) => n.nodeId)).toEqual(["pi-a", "pi-b"]);
      expect(await store.nodes.existing(["pi-c", "pi-b", "pi-a"])).toEqual(new Set(["pi-b", "pi-a"]));
    });

    test("saving a known node again changes only what re-registration changes", async () => {
      const store = await fresh();
      await store.write((tx) => tx.nodes.save(node("pi-1", { health: "healthy", healthCause: "heartbeat on time" })));
      const again = node("pi-1", {
        registrationId: "reg_other",
        publicKey: "other-key",
        registeredAt: NOW + 1,
        capabilities: ["gate"],
        arch: "x64",
        version: "0.2.0",
        endpoint: "http://pi-1:8081",
        passwordHash: "1".repeat(64),
        credentialsAt: NOW + 2,
        proofTs: NOW + 3,
      });
      await store.write((tx) => tx.nodes.save(again));
      expect(await store.nodes.get("pi-1")).toEqual({
        ...again,
        registrationId: "reg_pi-1",
        publicKey: "key-pi-1",
        registeredAt: NOW,
        health: "healthy",
        healthCause: "heartbeat on time",
      });
    });

    test("saveLive writes health, the live view and what a birth changes, and skips ids not registered", async () => {
      const store = await fresh();
      await store.write((tx) => tx.nodes.save(node("pi-1")));
      const live = { ...emptyLive(), lastSeen: NOW + 10, heartbeats: 7, load: [0.5, 0.25, 0.125] as [number, number, number] };
      const changed = node("pi-1", { health: "healthy", healthSince: NOW + 10, healthCause: "heartbeat on time", version: "0.3.0", arch: "x64", capabilities: ["gate"], live });
      await store.write((tx) => tx.nodes.saveLive([changed, node("pi-unknown")]));
      expect(await store.nodes.get("pi-1")).toEqual(changed);
      expect(await store.nodes.get("pi-unknown")).toBeUndefined();
    });

    test("deleting a node says whether there was one", async () => {
      const store = await fresh();
      await store.write((tx) => tx.nodes.save(node("pi-1")));
      expect(await store.write((tx) => tx.nodes.delete("pi-1"))).toBe(true);
      expect(await store.write((tx) => tx.nodes.delete("pi-1"))).toBe(false);
      expect(await store.nodes.get("pi-1")).toBeUndefined();
    });
  });

  describe(`${name}: verdict and close numbers (several replicas)`, () => {
    const heard = (nodeId: string, seq: number, at = NOW, kind: NodeSequence["kind"] = "verdict"): NodeSequence => ({ nodeId, kind, seq, at });

    test("each (node, kind, seq) is recorded once: a seq heard again, also twice in one batch, is not returned; kinds and nodes apart; ids not registered skipped", async () => {
      const store = await fresh();
      await store.write(async (tx) => {
        await tx.nodes.save(node("pi-1"));
        await tx.nodes.save(node("pi-2"));
      });
      const first = await store.write((tx) => tx.nodes.recordSequences([heard("pi-1", 2), heard("pi-1", 1), heard("pi-1", 2), heard("pi-2", 1), heard("pi-x", 1)]));
      expect(first).toEqual([heard("pi-1", 2), heard("pi-1", 1), heard("pi-2", 1)]);
      const again = await store.write((tx) => tx.nodes.recordSequences([heard("pi-1", 1), heard("pi-1", 3), heard("pi-1", 1, NOW, "close")]));
      expect(again).toEqual([heard("pi-1", 3), heard("pi-1", 1, NOW, "close")]);
    });

    test("pruning forgets old numbers but raises the node's floor: a seq at or under it stays heard, one above is new; deletion starts the id afresh", async () => {
      const store = await fresh();
      await store.write((tx) => tx.nodes.save(node("pi-1")));
      await store.write((tx) => tx.nodes.recordSequences([heard("pi-1", 1, NOW), heard("pi-1", 3, NOW), heard("pi-1", 5, NOW + HOUR)]));
      expect(await store.write((tx) => tx.nodes.pruneSequences(NOW + 1))).toBe(2);
      // 2 was never heard, but lies under the floor (3): below the window it counts as a redelivery.
      expect(await store.write((tx) => tx.nodes.recordSequences([heard("pi-1", 2), heard("pi-1", 3), heard("pi-1", 4), heard("pi-1", 5)]))).toEqual([heard("pi-1", 4)]);
      await store.write((tx) => tx.nodes.delete("pi-1"));
      await store.write((tx) => tx.nodes.save(node("pi-1")));
      expect(await store.write((tx) => tx.nodes.recordSequences([heard("pi-1", 1)]))).toEqual([heard("pi-1", 1)]);
    });

    test("lockForMerge reads the registered rows by id; recency reads each node's health and when saveLive last had it heard from", async () => {
      const store = await fresh();
      const live = { ...emptyLive(), state: "online" as const, stateAt: NOW + 1, lastHeartbeatAt: NOW + 2 };
      const b = node("pi-b", { health: "healthy", healthCause: "heartbeat on time", live });
      await store.write(async (tx) => {
        await tx.nodes.save(node("pi-b"));
        await tx.nodes.save(node("pi-a"));
        await tx.nodes.saveLive([b]);
      });
      expect(await store.write((tx) => tx.nodes.lockForMerge(["pi-b", "pi-x", "pi-a"]))).toEqual([node("pi-a"), b]);
      const recency = (await store.nodes.recency()).sort((x, y) => (x.nodeId < y.nodeId ? -1 : 1));
      expect(recency).toEqual([
        { nodeId: "pi-a", health: "offline", healthSince: NOW, healthCause: "registered, not heard from yet", heardAt: null },
        { nodeId: "pi-b", health: "healthy", healthSince: NOW, healthCause: "heartbeat on time", heardAt: NOW + 2 },
      ]);
    });
  });

  describe(`${name}: health transitions`, () => {
    test("read back newest first, per node, as many as asked", async () => {
      const store = await fresh();
      await store.write(async (tx) => {
        await tx.nodes.save(node("pi-1"));
        await tx.nodes.save(node("pi-2"));
        await tx.nodes.addTransitions([
          { nodeId: "pi-1", transition: { from: null, to: "offline", at: NOW, cause: "registered" } },
          { nodeId: "pi-2", transition: flap(NOW + 1, "healthy") },
          { nodeId: "pi-1", transition: flap(NOW + 2, "healthy") },
          { nodeId: "pi-unknown", transition: flap(NOW + 3, "healthy") }, // not registered: skipped
        ]);
      });
      await store.write((tx) => tx.nodes.addTransitions([{ nodeId: "pi-1", transition: flap(NOW + 4, "offline") }]));
      const latest = await store.nodes.latestTransitions(2);
      expect([...latest.keys()].sort()).toEqual(["pi-1", "pi-2"]);
      expect(latest.get("pi-1")).toEqual([flap(NOW + 4, "offline"), flap(NOW + 2, "healthy")]);
      expect(latest.get("pi-2")).toEqual([flap(NOW + 1, "healthy")]);
      expect((await store.nodes.latestTransitions(20)).get("pi-1")).toHaveLength(3);
    });

    test(`a flapping node keeps its newest ${TRANSITIONS_KEPT_PER_NODE} transitions, not one per flap (defect 5)`, async () => {
      const store = await fresh();
      await store.write(async (tx) => {
        await tx.nodes.save(node("flapper"));
        await tx.nodes.save(node("steady"));
        await tx.nodes.addTransitions([{ nodeId: "steady", transition: flap(NOW, "healthy") }]);
      });
      // 3,000 flaps, written the way the fleet flushes them: a batch per flush.
      const FLAPS = 3000;
      for (let batch = 0; batch < FLAPS / 100; batch++) {
        const transitions = Array.from({ length: 100 }, (_, i) => {
          const n = batch * 100 + i;
          return { nodeId: "flapper", transition: flap(NOW + n, n % 2 === 0 ? "offline" : "healthy") };
        });
        await store.write((tx) => tx.nodes.addTransitions(transitions));
      }
      const kept = (await store.nodes.latestTransitions(FLAPS)).get("flapper")!;
      expect(kept).toHaveLength(TRANSITIONS_KEPT_PER_NODE);
      expect(kept[0]!.at).toBe(NOW + FLAPS - 1); // the newest stay
      expect(kept.at(-1)!.at).toBe(NOW + FLAPS - TRANSITIONS_KEPT_PER_NODE);
      // One batch larger than the limit is trimmed as well.
      const burst = Array.from({ length: TRANSITIONS_KEPT_PER_NODE * 3 }, (_, i) => ({ nodeId: "flapper", transition: flap(NOW + FLAPS + i, "healthy") }));
      await store.write((tx) => tx.nodes.addTransitions(burst));
      expect((await store.nodes.latestTransitions(FLAPS)).get("flapper")).toHaveLength(TRANSITIONS_KEPT_PER_NODE);
      expect((await store.nodes.latestTransitions(FLAPS)).get("steady")).toEqual([flap(NOW, "healthy")]);
    });

    test("a node's transitions go with it, and a later node of the same id starts without them (defect 5)", async () => {
      const store = await fresh();
      await store.write(async (tx) => {
        await tx.nodes.save(node("pi-1"));
        await tx.nodes.save(node("pi-2"));
        await tx.nodes.addTransitions([
          { nodeId: "pi-1", transition: flap(NOW, "healthy") },
          { nodeId: "pi-2", transition: flap(NOW, "healthy") },
        ]);
      });
      await store.write((tx) => tx.nodes.delete("pi-1"));
      expect((await store.nodes.latestTransitions(TRANSITIONS_KEPT_PER_NODE)).has("pi-1")).toBe(false);
      // Transitions of a node removed in the same transaction before them are not written.
      await store.write(async (tx) => {
        await tx.nodes.delete("pi-2");
        await tx.nodes.addTransitions([{ nodeId: "pi-2", transition: flap(NOW + 1, "offline") }]);
      });
      await store.write((tx) => tx.nodes.save(node("pi-2")));
      expect((await store.nodes.latestTransitions(TRANSITIONS_KEPT_PER_NODE)).size).toBe(0);
    });
  });

  describe(`${name}: strategy reports`, () => {
    const history = (store: HubStore, nodeId: string, kind: ReportKind, options: { limit?: number; beforeSeq?: number; model?: string } = {}) =>
      store.reports.history(nodeId, kind, { limit: 10_000, ...options });
    const tsOf = (reports: { report: { ts: number } }[]) => reports.map((r) => r.report.ts);

    test("read back whole, newest first, per node and kind, paged by seq; one model's alone; ids not registered skipped; kept across a reopen", async () => {
      const { store, reopen } = await open();
      const health = { system_status: "DEGRADED", ess_state: "CAUTION", ts: NOW + 2 } as const;
      await store.write(async (tx) => {
        await tx.nodes.save(node("pi-1"));
        await tx.nodes.save(node("pi-2"));
        await tx.reports.add([
          reported("pi-1", "portfolio", portfolio(NOW)),
          reported("pi-2", "portfolio", portfolio(NOW + 1)),
          reported("pi-1", "health", health),
          reported("pi-1", "models", modelReport("NHiTS", NOW + 3)),
          reported("pi-1", "models", modelReport("XGBoost", NOW + 4)),
          reported("pi-unknown", "portfolio", portfolio(NOW)), // not registered: skipped
        ]);
      });
      await store.write((tx) => tx.reports.add([reported("pi-1", "portfolio", portfolio(NOW + 5)), reported("pi-1", "models", modelReport("NHiTS", NOW + 6))]));

      const newest = await history(store, "pi-1", "portfolio");
      expect(newest).toEqual([
        { seq: expect.any(Number), ...reported("pi-1", "portfolio", portfolio(NOW + 5)) },
        { seq: expect.any(Number), ...reported("pi-1", "portfolio", portfolio(NOW)) },
      ]);
      expect(newest[0]!.seq).toBeGreaterThan(newest[1]!.seq);
      expect(await history(store, "pi-1", "health")).toEqual([{ seq: expect.any(Number), ...reported("pi-1", "health", health) }]);
      expect(tsOf(await history(store, "pi-2", "portfolio"))).toEqual([NOW + 1]);
      expect(await history(store, "pi-unknown", "portfolio")).toEqual([]);
      expect(await history(store, "pi-2", "models")).toEqual([]);

      const models = await history(store, "pi-1", "models");
      expect(models.map((r) => [(r.report as ReportOf["models"]).model_name, r.report.ts])).toEqual([
        ["NHiTS", NOW + 6],
        ["XGBoost", NOW + 4],
        ["NHiTS", NOW + 3],
      ]);
      expect(tsOf(await history(store, "pi-1", "models", { model: "NHiTS" }))).toEqual([NOW + 6, NOW + 3]);
      expect(await history(store, "pi-1", "models", { model: "PatchTST" })).toEqual([]);
      // Pages: `limit` of them, then the next below the last seq of the page.
      const first = await history(store, "pi-1", "models", { limit: 2 });
      expect(tsOf(first)).toEqual([NOW + 6, NOW + 4]);
      expect(tsOf(await history(store, "pi-1", "models", { limit: 2, beforeSeq: first[1]!.seq }))).toEqual([NOW + 3]);

      await store.close();
      const again = await reopen();
      expect(await history(again, "pi-1", "models")).toEqual(models);
    });

    test(`each series keeps its newest ${REPORT_HISTORY.portfolio} (portfolio, health) or ${REPORT_HISTORY.models} (each model), also written a batch at a time`, async () => {
      const store = await fresh();
      await store.write((tx) => tx.nodes.save(node("pi-1")));
      const EXTRA = 30;
      const snapshots = Array.from({ length: REPORT_HISTORY.portfolio + EXTRA }, (_, i) => reported("pi-1", "portfolio", portfolio(NOW + i)));
      for (let at = 0; at < snapshots.length; at += 100) await store.write((tx) => tx.reports.add(snapshots.slice(at, at + 100)));
      const kept = await history(store, "pi-1", "portfolio");
      expect(kept).toHaveLength(REPORT_HISTORY.portfolio);
      expect(kept[0]!.report.ts).toBe(NOW + REPORT_HISTORY.portfolio + EXTRA - 1);
      expect(kept.at(-1)!.report.ts).toBe(NOW + EXTRA);

      const burst = Array.from({ length: REPORT_HISTORY.models * 2 }, (_, i) => reported("pi-1", "models", modelReport("NHiTS", NOW + i)));
      await store.write((tx) => tx.reports.add([reported("pi-1", "models", modelReport("rare", NOW)), ...burst]));
      expect(tsOf(await history(store, "pi-1", "models", { model: "NHiTS" }))).toEqual(
        Array.from({ length: REPORT_HISTORY.models }, (_, i) => NOW + REPORT_HISTORY.models * 2 - 1 - i),
      );
      expect(tsOf(await history(store, "pi-1", "models", { model: "rare" }))).toEqual([NOW]);
      expect(await history(store, "pi-1", "portfolio")).toEqual(kept); // other series untouched
    });

    test("a node's reports go with it; reports of a node removed in the same transaction before them are not written", async () => {
      const store = await fresh();
      await store.write(async (tx) => {
        await tx.nodes.save(node("pi-1"));
        await tx.nodes.save(node("pi-2"));
        await tx.reports.add([reported("pi-1", "portfolio", portfolio(NOW)), reported("pi-2", "models", modelReport("NHiTS", NOW))]);
      });
      await store.write((tx) => tx.nodes.delete("pi-1"));
      await store.write(async (tx) => {
        await tx.nodes.delete("pi-2");
        await tx.reports.add([reported("pi-2", "models", modelReport("NHiTS", NOW + 1))]);
      });
      await store.write(async (tx) => {
        await tx.nodes.save(node("pi-1"));
        await tx.nodes.save(node("pi-2"));
      });
      expect(await history(store, "pi-1", "portfolio")).toEqual([]);
      expect(await history(store, "pi-2", "models")).toEqual([]);
    });
  });

  describe(`${name}: federation events`, () => {
    const portfolioEvent = (nodeId: string, at: number): NodeFederationEvent => ({ type: "portfolio", node: nodeId, at, report: portfolio(at - 3) });
    const healthEvent = (nodeId: string, at: number, state: "healthy" | "offline" = "healthy"): NodeFederationEvent => ({ type: "node_health", node: nodeId, at, state });
    const closeEvent = (nodeId: string, at: number): NodeFederationEvent => ({
      type: "close",
      node: nodeId,
      at,
      close: { symbol: "BTCUSDT", ts: at - 1, pnl_usd: -12.5, exit: "stop_loss" },
    });
    const all = (store: HubStore, query: { afterSeq?: number; from?: number; to?: number; node?: string; limit?: number } = {}) =>
      store.federationEvents.list({ limit: 10_000, ...query });
    const atOf = (events: { event: { at: number } }[]) => events.map((e) => e.event.at);

    test("read back whole in the order added, narrowed by time, node and cursor; ids not registered skipped; kept across a reopen", async () => {
      const { store, reopen } = await open();
      await store.write(async (tx) => {
        await tx.nodes.save(node("pi-1"));
        await tx.nodes.save(node("pi-2"));
      });
      const first = [portfolioEvent("pi-1", NOW), healthEvent("pi-2", NOW + 1), closeEvent("pi-1", NOW + 2), portfolioEvent("pi-unknown", NOW + 3)];
      await store.write((tx) => tx.federationEvents.add(first));
      // Observation order, not time order: an event observed later with an earlier `at` comes after.
      const second = [healthEvent("pi-1", NOW + 5, "offline"), portfolioEvent("pi-2", NOW + 4)];
      await store.write((tx) => tx.federationEvents.add(second));

      const everything = await all(store);
      expect(everything.map((e) => e.event)).toEqual([...first.slice(0, 3), ...second]);
      const seqs = everything.map((e) => e.seq);
      expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
      expect(new Set(seqs).size).toBe(seqs.length);

      expect(atOf(await all(store, { node: "pi-1" }))).toEqual([NOW, NOW + 2, NOW + 5]);
      expect(atOf(await all(store, { from: NOW + 2 }))).toEqual([NOW + 2, NOW + 5, NOW + 4]);
      expect(atOf(await all(store, { to: NOW + 2 }))).toEqual([NOW, NOW + 1]); // `to` excluded
      expect(atOf(await all(store, { from: NOW + 1, to: NOW + 5, node: "pi-2" }))).toEqual([NOW + 1, NOW + 4]);
      expect(await all(store, { node: "pi-unknown" })).toEqual([]);
      // Pages: `limit` of them, then the next after the last seq of the page.
      const page = await all(store, { limit: 2 });
      expect(atOf(page)).toEqual([NOW, NOW + 1]);
      expect(atOf(await all(store, { limit: 2, afterSeq: page[1]!.seq }))).toEqual([NOW + 2, NOW + 5]);
      expect(await all(store, { afterSeq: seqs.at(-1)! })).toEqual([]);

      await store.close();
      expect(await all(await reopen())).toEqual(everything);
    });

    test("committed(): every event once, in pages from the cursor, from a time on; a read to the end goes on past what was older", async () => {
      const { store } = await open();
      await store.write((tx) => tx.nodes.save(node("pi-1")));
      await store.write((tx) => tx.federationEvents.add([healthEvent("pi-1", NOW), portfolioEvent("pi-1", NOW + 1), closeEvent("pi-1", NOW + 2)]));
      const firstPage = await store.federationEvents.committed({ limit: 2 });
      expect(atOf(firstPage.events)).toEqual([NOW, NOW + 1]);
      const rest = await store.federationEvents.committed({ limit: 2, after: firstPage.cursor });
      expect(atOf(rest.events)).toEqual([NOW + 2]);
      expect((await store.federationEvents.committed({ limit: 2, after: rest.cursor })).events).toEqual([]);
      await store.write((tx) => tx.federationEvents.add([healthEvent("pi-1", NOW + 3)]));
      expect(atOf((await store.federationEvents.committed({ limit: 2, after: rest.cursor })).events)).toEqual([NOW + 3]);

      // From a time on (a rebuild's window): the older events are skipped, and the cursor goes past them too.
      const recent = await store.federationEvents.committed({ limit: 10, from: NOW + 2 });
      expect(atOf(recent.events)).toEqual([NOW + 2, NOW + 3]);
      expect((await store.federationEvents.committed({ limit: 10, after: recent.cursor })).events).toEqual([]);
      const none = await store.federationEvents.committed({ limit: 10, from: NOW + HOUR });
      expect(none.events).toEqual([]);
      expect((await store.federationEvents.committed({ limit: 10, after: none.cursor })).events).toEqual([]);
    });

    test("each node keeps its newest events up to the bound, also written a batch at a time or in one batch past it", async () => {
      const store = (await open({ ...DEFAULT_STORE_BOUNDS, federationEventsPerNode: 50 })).store;
      await store.write(async (tx) => {
        await tx.nodes.save(node("chatty"));
        await tx.nodes.save(node("quiet"));
      });
      await store.write((tx) => tx.federationEvents.add([healthEvent("quiet", NOW)]));
      for (let batch = 0; batch < 7; batch++) {
        const events = Array.from({ length: 10 }, (_, i) => portfolioEvent("chatty", NOW + batch * 10 + i));
        await store.write((tx) => tx.federationEvents.add(events));
      }
      expect(atOf(await all(store, { node: "chatty" }))).toEqual(Array.from({ length: 50 }, (_, i) => NOW + 20 + i));
      const burst = Array.from({ length: 120 }, (_, i) => portfolioEvent("chatty", NOW + 100 + i));
      await store.write((tx) => tx.federationEvents.add(burst));
      expect(atOf(await all(store, { node: "chatty" }))).toEqual(Array.from({ length: 50 }, (_, i) => NOW + 170 + i));
      expect(atOf(await all(store, { node: "quiet" }))).toEqual([NOW]); // other nodes untouched
    });

    test("events observed longer ago than the bound before the newest added go, and a trimmed node's count stays right", async () => {
      const store = (await open({ ...DEFAULT_STORE_BOUNDS, federationEventsPerNode: 3, federationEventsMs: HOUR })).store;
      await store.write(async (tx) => {
        await tx.nodes.save(node("pi-1"));
        await tx.nodes.save(node("pi-2"));
      });
      await store.write((tx) => tx.federationEvents.add([healthEvent("pi-1", NOW), healthEvent("pi-1", NOW + 1), healthEvent("pi-2", NOW + 2)]));
      await store.write((tx) => tx.federationEvents.add([healthEvent("pi-2", NOW + HOUR + 1)])); // NOW + 1 is exactly an hour before: kept
      expect(atOf(await all(store))).toEqual([NOW + 1, NOW + 2, NOW + HOUR + 1]);
      // pi-1 has one event left, counted so: two more fit before its bound of 3 trims anything.
      await store.write((tx) => tx.federationEvents.add([healthEvent("pi-1", NOW + 3), healthEvent("pi-1", NOW + 4)]));
      expect(atOf(await all(store, { node: "pi-1" }))).toEqual([NOW + 1, NOW + 3, NOW + 4]);
      await store.write((tx) => tx.federationEvents.add([healthEvent("pi-1", NOW + 5)]));
      expect(atOf(await all(store, { node: "pi-1" }))).toEqual([NOW + 3, NOW + 4, NOW + 5]);
    });

    test("a node's events go with it; events of a node removed in the same transaction before them are not written; its id starts afresh", async () => {
      const store = (await open({ ...DEFAULT_STORE_BOUNDS, federationEventsPerNode: 2 })).store;
      await store.write(async (tx) => {
        await tx.nodes.save(node("pi-1"));
        await tx.nodes.save(node("pi-2"));
        await tx.federationEvents.add([healthEvent("pi-1", NOW), healthEvent("pi-1", NOW + 1), closeEvent("pi-2", NOW + 2)]);
      });
      await store.write((tx) => tx.nodes.delete("pi-1"));
      await store.write(async (tx) => {
        await tx.nodes.delete("pi-2");
        await tx.federationEvents.add([closeEvent("pi-2", NOW + 3)]);
      });
      expect(await all(store)).toEqual([]);
      await store.write(async (tx) => {
        await tx.nodes.save(node("pi-1"));
        await tx.federationEvents.add([healthEvent("pi-1", NOW + 10)]);
      });
      await store.write((tx) => tx.federationEvents.add([healthEvent("pi-1", NOW + 11)]));
      expect(atOf(await all(store))).toEqual([NOW + 10, NOW + 11]); // the removed node's count went with it
    });
  });

  describe(`${name}: alerts`, () => {
    const alert = (seq: number, overrides: Partial<StoredAlert> = {}): StoredAlert => ({
      seq,
      severity: "high",
      kind: "node_offline",
      subject: `pi-${seq}`,
      message: `pi-${seq} went offline`,
      at: NOW + seq,
      delivery: "none",
      ...overrides,
    });
    const seqsOf = (alerts: { seq: number }[]) => alerts.map((a) => a.seq);

    test("read back whole, newest first, from a time, by delivery, as many as asked; numbered as given; kept across a reopen", async () => {
      const { store, reopen } = await open();
      expect(await store.alerts.lastSeq()).toBe(0);
      const raised = [alert(1), alert(2, { severity: "critical", kind: "fleet_frozen", subject: "fleet", delivery: "queued" }), alert(3, { delivery: "deduplicated" })];
      await store.write(async (tx) => {
        for (const a of raised) await tx.alerts.add(a);
      });
      expect(await store.alerts.list({ limit: 10 })).toEqual([...raised].reverse());
      expect(seqsOf(await store.alerts.list({ since: NOW + 2, limit: 10 }))).toEqual([3, 2]);
      expect(seqsOf(await store.alerts.list({ limit: 1 }))).toEqual([3]);
      expect(seqsOf(await store.alerts.list({ delivery: "queued", limit: 10 }))).toEqual([2]);
      expect(await store.alerts.lastSeq()).toBe(3);
      expect(await store.alerts.count()).toBe(3);
      await store.close();
      const again = await reopen();
      expect(await again.alerts.list({ limit: 10 })).toEqual([...raised].reverse());
      expect(await again.alerts.lastSeq()).toBe(3);
    });

    test("the outbox holds the queued ones in seq order, with their attempts, until delivered or failed", async () => {
      const { store, reopen } = await open();
      await store.write(async (tx) => {
        await tx.alerts.add(alert(1, { delivery: "queued" }));
        await tx.alerts.add(alert(2, { delivery: "held" }));
        await tx.alerts.add(alert(3, { delivery: "queued" }));
        await tx.alerts.add(alert(4, { delivery: "queued" }));
      });
      expect((await store.alerts.outbox(10)).map((e) => [e.alert.seq, e.attempts, e.nextAttemptAt])).toEqual([
        [1, 0, NOW + 1],
        [3, 0, NOW + 3],
        [4, 0, NOW + 4],
      ]);
      expect((await store.alerts.outbox(1))[0]!.alert).toEqual(alert(1, { delivery: "queued" }));
      await store.write((tx) => tx.alerts.retryLater(1, 2, NOW + 500));
      await store.write((tx) => tx.alerts.setDelivery([3], "delivered"));
      await store.write((tx) => tx.alerts.setDelivery([2], "summarised"));
      await store.close();
      const again = await reopen();
      expect((await again.alerts.outbox(10)).map((e) => [e.alert.seq, e.attempts, e.nextAttemptAt])).toEqual([
        [1, 2, NOW + 500],
        [4, 0, NOW + 4],
      ]);
      await again.write((tx) => tx.alerts.setDelivery([1, 4], "failed"));
      expect(await again.alerts.outbox(10)).toEqual([]);
      // Settled for good: a late record (a replica that lost the webhook duty mid-post) changes nothing.
      await again.write((tx) => tx.alerts.setDelivery([3, 2], "failed"));
      expect((await again.alerts.list({ limit: 10 })).map((a) => [a.seq, a.delivery])).toEqual([
        [4, "failed"],
        [3, "delivered"],
        [2, "summarised"],
        [1, "failed"],
      ]);
    });

    test("nextSeq inside a write is one past the highest seq ever given, and a write rolled back gives it back", async () => {
      const { store } = await open();
      await store.write(async (tx) => {
        await tx.alerts.add(alert(1));
        await tx.alerts.add(alert(2));
      });
      await expect(
        store.write(async (tx) => {
          expect(await tx.alerts.nextSeq()).toBe(3);
          throw new Error("rolled back");
        }),
      ).rejects.toThrow("rolled back");
      const seq = await store.write(async (tx) => {
        const next = await tx.alerts.nextSeq();
        await tx.alerts.add(alert(next));
        return next;
      });
      expect(seq).toBe(3);
      expect(await store.alerts.lastSeq()).toBe(3);
    });

    test("only the newest and the recent are kept, never one still in the outbox; numbering goes on past those trimmed", async () => {
      const { store, reopen } = await open({ ...DEFAULT_STORE_BOUNDS, alertsKept: 3, alertsMs: HOUR });
      await store.write(async (tx) => {
        await tx.alerts.add(alert(1, { delivery: "queued" }));
        for (let seq = 2; seq <= 6; seq++) await tx.alerts.add(alert(seq));
      });
      expect(seqsOf(await store.alerts.list({ limit: 10 }))).toEqual([6, 5, 4, 1]);
      await store.write((tx) => tx.alerts.add(alert(7, { at: NOW + HOUR + 7 }))); // 5 and 6 were raised more than an hour before it
      expect(seqsOf(await store.alerts.list({ limit: 10 }))).toEqual([7, 1]);
      await store.write((tx) => tx.alerts.setDelivery([1], "delivered"));
      await store.write((tx) => tx.alerts.add(alert(8, { at: NOW + HOUR + 8 })));
      expect(seqsOf(await store.alerts.list({ limit: 10 }))).toEqual([8, 7]);
      await store.close();
      const again = await reopen();
      expect(await again.alerts.lastSeq()).toBe(8);
      expect(await again.alerts.count()).toBe(2);
    });
  });

  describe(`${name}: federation roles`, () => {
    const roleDecision = (n: number, at = NOW + n): KeptDecision => ({
      id: `fed-${n}`,
      at,
      role: "supervisor",
      rule: "fleet_drawdown",
      type: "FREEZE",
      target: "fleet",
      payload: { severity: "HIGH", reason: `freeze ${n}` },
      direction: "tighten",
      reason: `freeze ${n}`,
      inputs: { fleet_drawdown_pct: 16 },
      thresholds: { fleet_drawdown_pct: 15 },
      mode: n % 2 ? "active" : "advisory",
      issued: n % 2 === 1,
    });
    const conflict = (n: number): ConflictRecord => ({
      at: NOW + n,
      fields: ["mode"],
      winner: { role: "supervisor", rule: "fleet_drawdown", type: "FREEZE", target: "fleet", payload: {}, direction: "tighten", at: NOW, id: `fed-${n}` },
      loser: { role: "ess_guard", rule: "sustained_warning", type: "MODE_CHANGE", target: "pi-1", payload: { mode: "LIVE" }, direction: "loosen", at: NOW + n },
    });
    const ids = (records: KeptDecision[]) => records.map((r) => r.id);

    test("decision records and conflicts read back whole, newest first, narrowed by time; an issued record gets its decision id; kept across a reopen", async () => {
      const { store, reopen } = await open();
      await store.write((tx) => tx.federationRoles.addDecisions([roleDecision(1), roleDecision(2)]));
      await store.write(async (tx) => {
        await tx.federationRoles.addDecisions([roleDecision(3, NOW)]); // decided later at an earlier time: still newest
        await tx.federationRoles.addConflicts([conflict(1), conflict(2)]);
      });
      expect(await store.federationRoles.decisions({ limit: 10 })).toEqual([roleDecision(3, NOW), roleDecision(2), roleDecision(1)]);
      expect(ids(await store.federationRoles.decisions({ limit: 2 }))).toEqual(["fed-3", "fed-2"]);
      expect(ids(await store.federationRoles.decisions({ limit: 10, since: NOW + 1 }))).toEqual(["fed-2", "fed-1"]);
      expect(await store.federationRoles.conflicts({ limit: 10 })).toEqual([conflict(2), conflict(1)]);
      expect(await store.federationRoles.conflicts({ limit: 10, since: NOW + 2 })).toEqual([conflict(2)]);

      expect(await store.write((tx) => tx.federationRoles.settleDecision("fed-1", { decision_id: "dec_abc" }))).toBe(true);
      expect(await store.write((tx) => tx.federationRoles.settleDecision("fed-3", { issue_error: "unknown node" }))).toBe(true);
      expect(await store.write((tx) => tx.federationRoles.settleDecision("fed-9", { decision_id: "dec_x" }))).toBe(false);
      const settled = await store.federationRoles.decisions({ limit: 10 });
      expect(settled[2]).toEqual({ ...roleDecision(1), decision_id: "dec_abc" });
      expect(settled[0]).toEqual({ ...roleDecision(3, NOW), issue_error: "unknown node" });

      await store.close();
      const again = await reopen();
      expect(await again.federationRoles.decisions({ limit: 10 })).toEqual(settled);
      expect(await again.federationRoles.conflicts({ limit: 10 })).toEqual([conflict(2), conflict(1)]);
    });

    test("the newest records of each kind are kept up to the bound, also past it in one batch", async () => {
      const store = (await open({ ...DEFAULT_STORE_BOUNDS, federationRoleRecords: 3 })).store;
      await store.write((tx) => tx.federationRoles.addDecisions([1, 2].map((n) => roleDecision(n))));
      await store.write((tx) => tx.federationRoles.addDecisions([3, 4].map((n) => roleDecision(n))));
      expect(ids(await store.federationRoles.decisions({ limit: 10 }))).toEqual(["fed-4", "fed-3", "fed-2"]);
      await store.write((tx) => tx.federationRoles.addDecisions([5, 6, 7, 8, 9].map((n) => roleDecision(n))));
      expect(ids(await store.federationRoles.decisions({ limit: 10 }))).toEqual(["fed-9", "fed-8", "fed-7"]);
      await store.write((tx) => tx.federationRoles.addConflicts([1, 2, 3, 4, 5].map(conflict)));
      expect(await store.federationRoles.conflicts({ limit: 10 })).toEqual([conflict(5), conflict(4), conflict(3)]);
    });

    test("latches move in order (set, replaced, deleted) and read back by rule then target; kept across a reopen", async () => {
      const { store, reopen } = await open();
      await store.write((tx) =>
        tx.federationRoles.moveLatches([
          { rule: "supervisor/fleet_freeze", target: "fleet", latch: { level: 1, since: NOW, value: ["fleet_drawdown"] } },
          { rule: "risk_officer/drawdown", target: "pi-2", latch: { level: 1, since: NOW } },
          { rule: "risk_officer/drawdown", target: "pi-1", latch: { level: 1, since: NOW } },
          { rule: "risk_officer/drawdown", target: "pi-1", latch: { level: 2, since: NOW + 5 } },
          { rule: "researcher/stale_model", target: "model:m1", latch: { level: 1, since: NOW } },
        ]),
      );
      await store.write((tx) => tx.federationRoles.moveLatches([{ rule: "researcher/stale_model", target: "model:m1", latch: null }, { rule: "ess_guard/thresholds", target: "pi-9", latch: null }]));
      const expected = [
        { rule: "risk_officer/drawdown", target: "pi-1", latch: { level: 2, since: NOW + 5 } },
        { rule: "risk_officer/drawdown", target: "pi-2", latch: { level: 1, since: NOW } },
        { rule: "supervisor/fleet_freeze", target: "fleet", latch: { level: 1, since: NOW, value: ["fleet_drawdown"] } },
      ];
      expect(await store.federationRoles.latches()).toEqual(expected);
      await store.close();
      expect(await (await reopen()).federationRoles.latches()).toEqual(expected);
    });

    test("a role's API-set mode is kept with the file's mode then, replaced, and forgotten; kept across a reopen", async () => {
      const { store, reopen } = await open();
      await store.write(async (tx) => {
        await tx.federationRoles.setMode({ role: "supervisor", mode: "active", fileMode: "advisory", setAt: NOW });
        await tx.federationRoles.setMode({ role: "researcher", mode: "off", fileMode: "advisory", setAt: NOW });
      });
      await store.write((tx) => tx.federationRoles.setMode({ role: "supervisor", mode: "off", fileMode: "active", setAt: NOW + 1 }));
      expect(await store.write((tx) => tx.federationRoles.clearMode("researcher"))).toBe(true);
      expect(await store.write((tx) => tx.federationRoles.clearMode("researcher"))).toBe(false);
      const expected: StoredRoleMode[] = [{ role: "supervisor", mode: "off", fileMode: "active", setAt: NOW + 1 }];
      expect(await store.federationRoles.modes()).toEqual(expected);
      await store.close();
      expect(await (await reopen()).federationRoles.modes()).toEqual(expected);
    });
  });

  describe(`${name}: enrollment tokens`, () => {
    test("a valid token is described; unknown, expired and used-up ones are not", async () => {
      const store = await fresh();
      await store.write(async (tx) => {
        await tx.tokens.add(token("h-valid", { usesLeft: 2, label: "rack 2" }));
        await tx.tokens.add(token("h-forever", { expiresAt: null }));
        await tx.tokens.add(token("h-used", { usesLeft: 0 }));
      });
      expect(await store.tokens.valid("h-valid", NOW)).toEqual({ label: "rack 2", usesLeft: 2, expiresAt: NOW + HOUR, registrations: 0 });
      expect(await store.tokens.valid("h-unknown", NOW)).toBeUndefined();
      expect((await store.tokens.valid("h-valid", NOW + HOUR - 1))?.usesLeft).toBe(2);
      expect(await store.tokens.valid("h-valid", NOW + HOUR)).toBeUndefined(); // from the expiry instant on
      expect(await store.tokens.valid("h-forever", NOW + 100 * 365 * 24 * HOUR)).toEqual({ label: "", usesLeft: 1, expiresAt: null, registrations: 0 });
      expect(await store.tokens.valid("h-used", NOW)).toBeUndefined();
    });

    test("known: there and not expired, used up or not", async () => {
      const store = await fresh();
      await store.write((tx) => tx.tokens.add(token("h-1")));
      expect(await store.write((tx) => tx.tokens.spendUse("h-1", NOW))).toBe(true);
      expect(await store.tokens.known("h-1", NOW)).toBe(true);
      expect(await store.tokens.known("h-1", NOW + HOUR)).toBe(false);
      expect(await store.tokens.known("h-unknown", NOW)).toBe(false);
    });

    test("spending decrements the uses and counts the registration, and stops at 0", async () => {
      const store = await fresh();
      await store.write((tx) => tx.tokens.add(token("h-1", { usesLeft: 2 })));
      expect(await store.write((tx) => tx.tokens.spendUse("h-1", NOW))).toBe(true);
      expect(await store.tokens.valid("h-1", NOW)).toEqual({ label: "", usesLeft: 1, expiresAt: NOW + HOUR, registrations: 1 });
      expect(await store.write((tx) => tx.tokens.spendUse("h-1", NOW))).toBe(true);
      expect(await store.write((tx) => tx.tokens.spendUse("h-1", NOW))).toBe(false);
      expect(await store.write((tx) => tx.tokens.spendUse("h-1", NOW))).toBe(false);
      // A refund shows what the refused spends left: 0 uses and 2 registrations, one given back.
      await store.write((tx) => tx.tokens.refundUse("h-1"));
      expect(await store.tokens.valid("h-1", NOW)).toEqual({ label: "", usesLeft: 1, expiresAt: NOW + HOUR, registrations: 1 });
    });

    test("spends nothing of an expired or unknown token, and only the token it is given", async () => {
      const store = await fresh();
      await store.write(async (tx) => {
        await tx.tokens.add(token("h-a", { usesLeft: 2 }));
        await tx.tokens.add(token("h-b"));
      });
      expect(await store.write((tx) => tx.tokens.spendUse("h-a", NOW + HOUR))).toBe(false);
      expect(await store.write((tx) => tx.tokens.spendUse("h-nope", NOW))).toBe(false);
      expect(await store.tokens.valid("h-a", NOW)).toEqual({ label: "", usesLeft: 2, expiresAt: NOW + HOUR, registrations: 0 });
      expect(await store.write((tx) => tx.tokens.spendUse("h-b", NOW))).toBe(true);
      expect(await store.tokens.valid("h-b", NOW)).toBeUndefined();
      expect((await store.tokens.valid("h-a", NOW))?.usesLeft).toBe(2);
    });

    test("an unlimited token never runs out, counts its registrations, and still expires", async () => {
      const store = await fresh();
      await store.write(async (tx) => {
        await tx.tokens.add(token("h-unlimited", { usesLeft: null, expiresAt: null }));
        await tx.tokens.add(token("h-short", { usesLeft: null, expiresAt: NOW + 1000 }));
      });
      for (let i = 0; i < 50; i++) expect(await store.write((tx) => tx.tokens.spendUse("h-unlimited", NOW + i))).toBe(true);
      expect(await store.tokens.valid("h-unlimited", NOW)).toEqual({ label: "", usesLeft: null, expiresAt: null, registrations: 50 });
      await store.write((tx) => tx.tokens.refundUse("h-unlimited"));
      expect(await store.tokens.valid("h-unlimited", NOW)).toEqual({ label: "", usesLeft: null, expiresAt: null, registrations: 49 });
      expect(await store.write((tx) => tx.tokens.spendUse("h-short", NOW + 999))).toBe(true);
      expect(await store.write((tx) => tx.tokens.spendUse("h-short", NOW + 1000))).toBe(false);
    });

    test("a re-registration is counted without spending a use, also on a used-up token", async () => {
      const store = await fresh();
      await store.write(async (tx) => {
        await tx.tokens.add(token("h-1"));
        await tx.tokens.add(token("h-2"));
      });
      await store.write(async (tx) => {
        await tx.tokens.countReuse("h-1");
        await tx.tokens.countReuse("h-1");
        await tx.tokens.countReuse("h-unknown"); // nothing to count
      });
      expect(await store.tokens.valid("h-1", NOW)).toEqual({ label: "", usesLeft: 1, expiresAt: NOW + HOUR, registrations: 2 });
      await store.write(async (tx) => {
        await tx.tokens.spendUse("h-2", NOW);
        await tx.tokens.countReuse("h-2");
      });
      expect(await store.tokens.valid("h-2", NOW)).toBeUndefined(); // still used up
      await store.write((tx) => tx.tokens.refundUse("h-2"));
      expect(await store.tokens.valid("h-2", NOW)).toEqual({ label: "", usesLeft: 1, expiresAt: NOW + HOUR, registrations: 1 });
    });

    test("a refund needs a registration to give back", async () => {
      const store = await fresh();
      await store.write((tx) => tx.tokens.add(token("h-1")));
      await store.write((tx) => tx.tokens.refundUse("h-1"));
      expect(await store.tokens.valid("h-1", NOW)).toEqual({ label: "", usesLeft: 1, expiresAt: NOW + HOUR, registrations: 0 });
    });
  });

  describe(`${name}: tombstones`, () => {
    const removed = (nodeId: string, publicKey: string, removedAt = NOW): Tombstone => ({ nodeId, removedAt, publicKey, readmittedAt: null });

    test("records, finds, renews, counts and deletes tombstones", async () => {
      const store = await fresh();
      expect(await store.tombstones.get("pi-1")).toBeUndefined();
      expect(await store.tombstones.count()).toBe(0);
      await store.write(async (tx) => {
        await tx.tombstones.put(removed("pi-1", "key-a"));
        await tx.tombstones.put(removed("pi-2", "key-b"));
      });
      expect(await store.tombstones.get("pi-1")).toEqual(removed("pi-1", "key-a"));
      expect(await store.tombstones.standing("pi-1")).toEqual(removed("pi-1", "key-a"));
      await store.write((tx) => tx.tombstones.put(removed("pi-1", "key-c", NOW + 5))); // removed again after a readmission
      expect(await store.tombstones.get("pi-1")).toEqual(removed("pi-1", "key-c", NOW + 5));
      expect(await store.tombstones.count()).toBe(2);
      expect(await store.write((tx) => tx.tombstones.delete("pi-1"))).toBe(true);
      expect(await store.write((tx) => tx.tombstones.delete("pi-1"))).toBe(false);
      expect(await store.tombstones.get("pi-1")).toBeUndefined();
      expect(await store.tombstones.count()).toBe(1);
    });

    test("a readmission lifts the removal once, keeps the key, and a new removal stands again", async () => {
      const store = await fresh();
      await store.write((tx) => tx.tombstones.put(removed("pi-1", "key-a")));
      expect(await store.write((tx) => tx.tombstones.readmit("pi-1", NOW + 10))).toBe(true);
      expect(await store.write((tx) => tx.tombstones.readmit("pi-1", NOW + 20))).toBe(false); // already readmitted
      expect(await store.write((tx) => tx.tombstones.readmit("pi-9", NOW))).toBe(false); // never removed
      expect(await store.tombstones.get("pi-1")).toEqual({ nodeId: "pi-1", removedAt: NOW, publicKey: "key-a", readmittedAt: NOW + 10 });
      expect(await store.tombstones.standing("pi-1")).toBeUndefined();
      expect(await store.tombstones.count()).toBe(0); // only standing removals count
      await store.write((tx) => tx.tombstones.put(removed("pi-1", "key-a", NOW + 30)));
      expect(await store.tombstones.standing("pi-1")).toEqual(removed("pi-1", "key-a", NOW + 30));
      expect(await store.tombstones.count()).toBe(1);
    });
  });

  describe(`${name}: decisions`, () => {
    test("stored decisions read back by id and newest first, paged by seq and kept to a node", async () => {
      const store = await fresh();
      expect(await store.write((tx) => tx.decisions.nextSeq())).toBe(1);
      await store.write(async (tx) => {
        await tx.decisions.add(decision(1, "fleet"), ["pi-1", "pi-2"], OPERATOR);
        await tx.decisions.add(decision(2, "pi-2"), ["pi-2"], OPERATOR);
        await tx.decisions.add(decision(3, "pi-1"), ["pi-1"], OPERATOR);
      });
      expect(await store.write((tx) => tx.decisions.nextSeq())).toBe(4);
      expect(await store.decisions.count()).toBe(3);
      expect(await store.decisions.get("dec_2")).toEqual({ seq: 2, message: decision(2, "pi-2"), origin: OPERATOR, targets: ["pi-2"], acks: [], overriddenBy: null });
      expect(await store.decisions.get("dec_9")).toBeUndefined();
      const ids = async (options: { limit: number; beforeSeq?: number; node?: string }) => (await store.decisions.list(options)).map((d) => d.message.id);
      expect(await ids({ limit: 10 })).toEqual(["dec_3", "dec_2", "dec_1"]);
      expect(await ids({ limit: 2 })).toEqual(["dec_3", "dec_2"]);
      expect(await ids({ limit: 10, beforeSeq: 3 })).toEqual(["dec_2", "dec_1"]);
      expect(await ids({ limit: 10, node: "pi-1" })).toEqual(["dec_3", "dec_1"]);
      expect(await ids({ limit: 10, node: "pi-9" })).toEqual([]);
    });

    test("who made a decision reads back with it: an operator, or a role with its rule, inputs and thresholds", async () => {
      const store = await fresh();
      const supervisor: DecisionOrigin = {
        kind: "role",
        role: "supervisor",
        rule: "fleet_drawdown",
        inputs: { fleet_drawdown_pct: 0.12, nodes: ["pi-1", "pi-2"] },
        thresholds: { max_fleet_drawdown_pct: 0.1 },
      };
      await store.write(async (tx) => {
        await tx.decisions.add(decision(1, "fleet"), ["pi-1"], supervisor);
        await tx.decisions.add(decision(2, "pi-1"), ["pi-1"], OPERATOR);
      });
      expect((await store.decisions.get("dec_1"))!.origin).toEqual(supervisor);
      expect((await store.decisions.list({ limit: 10 })).map((d) => d.origin)).toEqual([OPERATOR, supervisor]);
    });

    test("the first ack of a node counts; acks read back with their decision", async () => {
      const store = await fresh();
      await store.write((tx) => tx.decisions.add(decision(1, "fleet"), ["pi-1", "pi-2"], OPERATOR));
      const first = { nodeId: "pi-2", ok: false, error: "LOCKED", appliedAt: NOW + 1, receivedAt: NOW + 2, result: null };
      await store.write(async (tx) => {
        await tx.decisions.addAck("dec_1", first);
        await tx.decisions.addAck("dec_1", { ...first, ok: true, error: null, appliedAt: NOW + 5 }); // a redelivery, acknowledged again
        await tx.decisions.addAck("dec_1", { nodeId: "pi-1", ok: true, error: null, appliedAt: NOW + 3, receivedAt: NOW + 4, result: null });
      });
      const [listed] = await store.decisions.list({ limit: 1 });
      expect(listed!.acks).toEqual([{ nodeId: "pi-1", ok: true, error: null, appliedAt: NOW + 3, receivedAt: NOW + 4, result: null }, first]);
      expect((await store.decisions.get("dec_1"))!.acks).toEqual(listed!.acks);
    });

    test("summaries count targets and acks instead of listing them, with the first pending ids and a node's own ack", async () => {
      const store = await fresh();
      const ok = (nodeId: string) => ({ nodeId, ok: true, error: null, appliedAt: NOW + 1, receivedAt: NOW + 2, result: null });
      await store.write(async (tx) => {
        await tx.decisions.add(decision(1, "fleet"), ["pi-1", "pi-2", "pi-3", "pi-4", "pi-5"], OPERATOR);
        await tx.decisions.add(decision(2, "pi-2"), ["pi-2"], OPERATOR);
        await tx.decisions.addAck("dec_1", ok("pi-2"));
        await tx.decisions.addAck("dec_1", { ...ok("pi-4"), ok: false, error: "LOCKED" });
        await tx.decisions.addAck("dec_2", ok("pi-2"));
      });
      const [second, first] = (await store.decisions.summaries({ limit: 10, pendingShown: 2 })) as [DecisionSummary, DecisionSummary];
      expect(first).toEqual({ seq: 1, message: decision(1, "fleet"), origin: OPERATOR, overriddenBy: null, targetCount: 5, ackedOk: 1, ackedError: 1, pendingCount: 3, pendingFirst: ["pi-1", "pi-3"] });
      expect(second).toMatchObject({ targetCount: 1, ackedOk: 1, ackedError: 0, pendingCount: 0, pendingFirst: [] });
      expect((await store.decisions.summaries({ limit: 10, pendingShown: 0 }))[1]!.pendingFirst).toEqual([]);
      // Paged and kept to a node as list() is, with that node's ack.
      expect((await store.decisions.summaries({ limit: 10, beforeSeq: 2, pendingShown: 5 })).map((d) => d.message.id)).toEqual(["dec_1"]);
      const forNode = await store.decisions.summaries({ limit: 10, node: "pi-2", pendingShown: 5 });
      expect(forNode.map((d) => [d.message.id, d.nodeAck])).toEqual([
        ["dec_2", ok("pi-2")],
        ["dec_1", ok("pi-2")],
      ]);
      expect((await store.decisions.summaries({ limit: 10, node: "pi-3", pendingShown: 5 })).map((d) => [d.message.id, d.nodeAck])).toEqual([["dec_1", null]]);
      // Kept to some types (the contract's decision() makes OVERRIDEs).
      expect((await store.decisions.summaries({ limit: 10, types: ["OVERRIDE", "FREEZE"], pendingShown: 0 })).map((d) => d.message.id)).toEqual(["dec_2", "dec_1"]);
      expect(await store.decisions.summaries({ limit: 10, types: ["FREEZE"], pendingShown: 0 })).toEqual([]);
    });

    test("a decision's targets page in node id order, pending, acknowledged or all", async () => {
      const store = await fresh();
      const nodes = ["pi-5", "pi-1", "pi-4", "pi-2", "pi-3"];
      const refused = { nodeId: "pi-2", ok: false, error: "LOCKED", appliedAt: NOW + 1, receivedAt: NOW + 2, result: null };
      const applied = { nodeId: "pi-4", ok: true, error: null, appliedAt: NOW + 3, receivedAt: NOW + 4, result: { n: 1 } };
      await store.write(async (tx) => {
        await tx.decisions.add(decision(1, "fleet"), nodes, OPERATOR);
        await tx.decisions.addAck("dec_1", refused);
        await tx.decisions.addAck("dec_1", applied);
      });
      const page = (state: "pending" | "acked" | "all", limit: number, afterNodeId?: string) => store.decisions.targets("dec_1", { state, limit, afterNodeId });
      expect(await page("all", 10)).toEqual([
        { nodeId: "pi-1", ack: null },
        { nodeId: "pi-2", ack: refused },
        { nodeId: "pi-3", ack: null },
        { nodeId: "pi-4", ack: applied },
        { nodeId: "pi-5", ack: null },
      ]);
      expect((await page("pending", 2))!.map((t) => t.nodeId)).toEqual(["pi-1", "pi-3"]);
      expect((await page("pending", 2, "pi-3"))!.map((t) => t.nodeId)).toEqual(["pi-5"]);
      expect(await page("acked", 10)).toEqual([
        { nodeId: "pi-2", ack: refused },
        { nodeId: "pi-4", ack: applied },
      ]);
      expect(await page("all", 10, "pi-5")).toEqual([]);
      expect(await store.decisions.targets("dec_9", { state: "all", limit: 10 })).toBeUndefined();
    });

    test("an ack's result (a research task's answer) reads back as the object it was", async () => {
      const store = await fresh();
      await store.write((tx) => tx.decisions.add(decision(1, "pi-1"), ["pi-1"], OPERATOR));
      const result = { total: 3, by_reason: { COOLDOWN: 2, "INVALID_INPUT:qty": 1 }, nested: [{ deep: [1, null, "x"] }] };
      await store.write((tx) => tx.decisions.addAck("dec_1", { nodeId: "pi-1", ok: true, error: null, appliedAt: NOW + 1, receivedAt: NOW + 2, result }));
      expect((await store.decisions.get("dec_1"))!.acks).toEqual([{ nodeId: "pi-1", ok: true, error: null, appliedAt: NOW + 1, receivedAt: NOW + 2, result }]);
      expect((await store.decisions.list({ limit: 1 }))[0]!.acks[0]!.result).toEqual(result);
    });

    test("an override is linked once; the history of some targets reads back oldest first with the links", async () => {
      const store = await fresh();
      await store.write(async (tx) => {
        await tx.decisions.add(decision(1, "fleet"), ["pi-1", "pi-2"], OPERATOR);
        await tx.decisions.add(decision(2, "pi-1"), ["pi-1"], OPERATOR);
        await tx.decisions.add(decision(3, "pi-2"), ["pi-2"], OPERATOR);
        await tx.decisions.add(decision(4, "fleet"), ["pi-1", "pi-2"], OPERATOR);
      });
      expect(await store.write((tx) => tx.decisions.setOverriddenBy("dec_2", "dec_4"))).toBe(true);
      expect(await store.write((tx) => tx.decisions.setOverriddenBy("dec_2", "dec_5"))).toBe(false); // already overridden: the first link stands
      expect(await store.write((tx) => tx.decisions.setOverriddenBy("dec_9", "dec_4"))).toBe(false); // no such decision
      expect((await store.decisions.get("dec_2"))!.overriddenBy).toBe("dec_4");
      expect((await store.decisions.list({ limit: 10 })).map((d) => [d.message.id, d.overriddenBy])).toEqual([
        ["dec_4", null],
        ["dec_3", null],
        ["dec_2", "dec_4"],
        ["dec_1", null],
      ]);
      expect(await store.decisions.addressedTo(["fleet", "pi-1"])).toEqual([
        { seq: 1, message: decision(1, "fleet"), origin: OPERATOR, overriddenBy: null },
        { seq: 2, message: decision(2, "pi-1"), origin: OPERATOR, overriddenBy: "dec_4" },
        { seq: 4, message: decision(4, "fleet"), origin: OPERATOR, overriddenBy: null },
      ]);
      expect(await store.decisions.addressedTo([])).toEqual([]);
    });

    test("closing a removed node's decisions: what it had not acknowledged is closed as removed, nothing else changes", async () => {
      const store = await fresh();
      const { decisions } = store;
      await store.write(async (tx) => {
        await tx.decisions.add(decision(1, "pi-1"), ["pi-1"], OPERATOR); // acknowledged before the removal
        await tx.decisions.add(decision(2, "pi-1"), ["pi-1"], OPERATOR); // pending
        await tx.decisions.add(decision(3, "pi-1", NOW - 1), ["pi-1"], OPERATOR); // expired, never acknowledged
        await tx.decisions.add(decision(4, "fleet"), ["pi-1", "pi-2"], OPERATOR); // pending for both
        await tx.decisions.add(decision(5, "pi-2"), ["pi-2"], OPERATOR);
        await tx.decisions.addAck("dec_1", { nodeId: "pi-1", ok: true, error: null, appliedAt: NOW + 1, receivedAt: NOW + 2, result: null });
      });
      const acks = async (id: string) => (await decisions.get(id))!.acks;
      expect((await decisions.pendingFor("pi-1", NOW)).map((d) => d.id)).toEqual(["dec_2", "dec_4"]);
      expect(await store.write((tx) => tx.decisions.closePending("pi-1", "node_removed", NOW + 10))).toBe(3);
      expect(await decisions.pendingFor("pi-1", NOW)).toEqual([]);
      const closed = { nodeId: "pi-1", ok: false, error: "node_removed", appliedAt: NOW + 10, receivedAt: NOW + 10, result: null };
      for (const id of ["dec_2", "dec_3"]) expect(await acks(id)).toEqual([closed]);
      expect(await acks("dec_1")).toEqual([{ nodeId: "pi-1", ok: true, error: null, appliedAt: NOW + 1, receivedAt: NOW + 2, result: null }]); // its own ack stands
      expect(await acks("dec_4")).toEqual([closed]); // the other target is still waited for
      expect((await decisions.pendingFor("pi-2", NOW)).map((d) => d.id)).toEqual(["dec_4", "dec_5"]);
      // Once closed, closed: a second removal or a late ack changes nothing.
      expect(await store.write((tx) => tx.decisions.closePending("pi-1", "node_removed", NOW + 20))).toBe(0);
      await store.write((tx) => tx.decisions.addAck("dec_2", { nodeId: "pi-1", ok: true, error: null, appliedAt: NOW + 30, receivedAt: NOW + 30, result: null }));
      expect(await acks("dec_2")).toEqual([closed]);
      // A decision sent to the id after that is pending as usual.
      await store.write((tx) => tx.decisions.add(decision(6, "pi-1"), ["pi-1"], OPERATOR));
      expect((await decisions.pendingFor("pi-1", NOW)).map((d) => d.id)).toEqual(["dec_6"]);
    });

    test("outstanding decisions are counted by type, origin and expiry until every target acknowledged or was closed", async () => {
      const store = await fresh();
      const riskOfficer: DecisionOrigin = { kind: "role", role: "risk_officer", rule: "r", inputs: {}, thresholds: {} };
      const typed = (seq: number, type: string, target: string, expiresAt = NOW + HOUR, issuedAt = NOW) =>
        ({ ...decision(seq, target, expiresAt), type, issuedAt }) as DecisionMessage;
      const ack = (nodeId: string) => ({ nodeId, ok: true, error: null, appliedAt: NOW, receivedAt: NOW, result: null });
      await store.write(async (tx) => {
        await tx.decisions.add(typed(1, "FREEZE", "fleet", NOW + HOUR, NOW - 5), ["pi-1", "pi-2"], OPERATOR); // pi-2 acks: pending for pi-1
        await tx.decisions.add(typed(2, "FREEZE", "pi-1"), ["pi-1"], OPERATOR); // pending
        await tx.decisions.add(typed(3, "FREEZE", "pi-2"), ["pi-2"], OPERATOR); // acknowledged
        await tx.decisions.add(typed(4, "RISK_LIMIT", "pi-1"), ["pi-1"], riskOfficer); // pending, a role's
        await tx.decisions.add(typed(5, "FREEZE", "pi-1", NOW - 10), ["pi-1"], OPERATOR); // expired unacknowledged
        await tx.decisions.add(typed(6, "FREEZE", "pi-1", NOW - 10 * HOUR), ["pi-1"], OPERATOR); // expired before expiredSince
        await tx.decisions.addAck("dec_1", ack("pi-2"));
        await tx.decisions.addAck("dec_3", ack("pi-2"));
      });
      expect(await store.decisions.outstanding(NOW, NOW - HOUR)).toEqual([
        { type: "FREEZE", origin: "operator", expired: false, count: 2, oldestIssuedAt: NOW - 5 },
        { type: "FREEZE", origin: "operator", expired: true, count: 1, oldestIssuedAt: NOW },
        { type: "RISK_LIMIT", origin: "risk_officer", expired: false, count: 1, oldestIssuedAt: NOW },
      ]);
      await store.write(async (tx) => {
        await tx.decisions.addAck("dec_1", ack("pi-1"));
        await tx.decisions.closePending("pi-1", "node_removed", NOW);
      });
      expect(await store.decisions.outstanding(NOW, NOW - HOUR)).toEqual([]);
    });

    test("unacknowledged: decisions after a seq issued by a time, oldest first, with the targets that have not acknowledged", async () => {
      const store = await fresh();
      const at = (seq: number, issuedAt: number) => ({ ...decision(seq, "fleet"), issuedAt });
      const ack = (nodeId: string) => ({ nodeId, ok: true, error: null, appliedAt: NOW, receivedAt: NOW, result: null });
      await store.write(async (tx) => {
        await tx.decisions.add(at(1, NOW), ["pi-b", "pi-a"], OPERATOR);
        await tx.decisions.add(at(2, NOW + 10), ["pi-a"], OPERATOR);
        await tx.decisions.add(at(3, NOW + 20), ["pi-a", "pi-b", "pi-c"], OPERATOR);
        await tx.decisions.add(at(4, NOW + 30), [], OPERATOR);
        await tx.decisions.add(at(5, NOW + 40), ["pi-a"], OPERATOR);
        await tx.decisions.addAck("dec_1", ack("pi-a"));
        await tx.decisions.addAck("dec_2", ack("pi-a"));
        await tx.decisions.addAck("dec_3", ack("pi-b"));
      });
      const found = await store.decisions.unacknowledged({ afterSeq: 0, issuedBefore: NOW + 30, limit: 10 });
      expect(found.map((d) => [d.seq, d.message.id, d.pending])).toEqual([
        [1, "dec_1", ["pi-b"]],
        [2, "dec_2", []],
        [3, "dec_3", ["pi-a", "pi-c"]],
        [4, "dec_4", []],
      ]);
      expect((await store.decisions.unacknowledged({ afterSeq: 1, issuedBefore: NOW + 40, limit: 2 })).map((d) => d.seq)).toEqual([2, 3]);
    });

    test("desired policies are saved per target, replaced, and deleted", async () => {
      const store = await fresh();
      await store.write(async (tx) => {
        await tx.decisions.savePolicy("fleet", policy(1));
        await tx.decisions.savePolicy("pi-1", policy(2, "pi-1"));
      });
      await store.write((tx) => tx.decisions.savePolicy("fleet", policy(3)));
      expect(await store.decisions.policies()).toEqual(new Map([["fleet", policy(3)], ["pi-1", policy(2, "pi-1")]]));
      expect(await store.decisions.hasPolicy("pi-1")).toBe(true);
      await store.write((tx) => tx.decisions.deletePolicy("pi-1"));
      expect(await store.decisions.hasPolicy("pi-1")).toBe(false);
      expect([...(await store.decisions.policies()).keys()]).toEqual(["fleet"]);
    });
  });

  describe(`${name}: enrollment tokens listed and revoked`, () => {
    const hashOf = (n: number) => `${String(n).padStart(12, "0")}${"f".repeat(52)}`;

    test("listed newest first by the first 12 hex of their hash, with their state; never the hash", async () => {
      const store = await fresh();
      await store.write(async (tx) => {
        await tx.tokens.add(token(hashOf(1), { label: "old", createdAt: NOW - 10 }));
        await tx.tokens.add(token(hashOf(2), { label: "new", usesLeft: null, expiresAt: null, createdBy: "alice" }));
        await tx.tokens.spendUse(hashOf(1), NOW);
      });
      expect(await store.tokens.list(10)).toEqual([
        { id: "000000000002", label: "new", usesLeft: null, expiresAt: null, createdAt: NOW, createdBy: "alice", registrations: 0, revokedAt: null },
        { id: "000000000001", label: "old", usesLeft: 0, expiresAt: NOW + HOUR, createdAt: NOW - 10, createdBy: "admin", registrations: 1, revokedAt: null },
      ]);
      expect(await store.tokens.list(1)).toHaveLength(1);
    });

    test("a revoked token enrols nothing and re-registers nothing; revoking twice or an unknown id says false", async () => {
      const store = await fresh();
      await store.write(async (tx) => {
        await tx.tokens.add(token(hashOf(1), { usesLeft: 5 }));
        await tx.tokens.add(token(hashOf(2), { usesLeft: 5 }));
      });
      expect(await store.write((tx) => tx.tokens.revoke("000000000001", NOW))).toBe(true);
      expect(await store.write((tx) => tx.tokens.revoke("000000000001", NOW + 1))).toBe(false);
      expect(await store.write((tx) => tx.tokens.revoke("00000000000x", NOW))).toBe(false);
      expect(await store.write((tx) => tx.tokens.revoke("%", NOW))).toBe(false);
      expect(await store.tokens.valid(hashOf(1), NOW)).toBeUndefined();
      expect(await store.tokens.known(hashOf(1), NOW)).toBe(false);
      expect(await store.write((tx) => tx.tokens.spendUse(hashOf(1), NOW))).toBe(false);
      expect((await store.tokens.list(10)).find((t) => t.id === "000000000001")?.revokedAt).toBe(NOW);
      expect((await store.tokens.valid(hashOf(2), NOW))?.usesLeft).toBe(5); // only the one named
    });
  });

  describe(`${name}: dashboard sessions`, () => {
    const session = (idHash: string, expiresAt: number, operatorId: string | null = null) => ({
      idHash,
      role: "viewer" as const,
      operator: operatorId ?? "watch",
      operatorId,
      csrfToken: `csrf-${idHash}`,
      createdAt: NOW,
      expiresAt,
    });

    test("read back until they expire, kept across a reopen, deleted one at a time or pruned once expired", async () => {
      const { store, reopen } = await open();
      await store.write(async (tx) => {
        await tx.sessions.add(session("h-short", NOW + 1000));
        await tx.sessions.add(session("h-long", NOW + HOUR));
      });
      expect(await store.sessions.get("h-short", NOW)).toEqual(session("h-short", NOW + 1000));
      expect(await store.sessions.get("h-short", NOW + 1000)).toBeUndefined(); // from the expiry instant on
      expect(await store.sessions.get("h-unknown", NOW)).toBeUndefined();
      await store.close();
      const again = await reopen();
      expect(await again.sessions.get("h-long", NOW)).toEqual(session("h-long", NOW + HOUR));
      expect(await again.write((tx) => tx.sessions.prune(NOW + 1000))).toBe(1);
      expect(await again.write((tx) => tx.sessions.delete("h-long"))).toBe(true);
      expect(await again.write((tx) => tx.sessions.delete("h-long"))).toBe(false);
      expect(await again.sessions.get("h-long", NOW)).toBeUndefined();
    });

    test("an operator's sessions end together; the others stay", async () => {
      const store = await fresh();
      await store.write(async (tx) => {
        await tx.sessions.add(session("h-a1", NOW + HOUR, "op-a"));
        await tx.sessions.add(session("h-a2", NOW + HOUR, "op-a"));
        await tx.sessions.add(session("h-b", NOW + HOUR, "op-b"));
        await tx.sessions.add(session("h-hub", NOW + HOUR));
      });
      expect(await store.sessions.get("h-a1", NOW)).toEqual(session("h-a1", NOW + HOUR, "op-a"));
      expect(await store.write((tx) => tx.sessions.deleteForOperator("op-a"))).toBe(2);
      expect(await store.sessions.get("h-a2", NOW)).toBeUndefined();
      expect(await store.sessions.get("h-b", NOW)).toBeDefined();
      expect(await store.sessions.get("h-hub", NOW)).toBeDefined();
    });
  });

  describe(`${name}: operators`, () => {
    const operator = (id: string, name: string, overrides: Partial<OperatorRecord> = {}): OperatorRecord => ({
      id,
      name,
      role: "admin",
      verifier: `scrypt$${id}`,
      createdAt: NOW,
      createdBy: "admin",
      rotatedAt: null,
      revokedAt: null,
      ...overrides,
    });

    test("read back by id and by name in force, listed oldest first, kept across a reopen", async () => {
      const { store, reopen } = await open();
      await store.write(async (tx) => {
        await tx.operators.add(operator("op2", "bob", { role: "viewer", createdAt: NOW + 1 }));
        await tx.operators.add(operator("op1", "alice"));
      });
      expect(await store.operators.get("op2")).toEqual(operator("op2", "bob", { role: "viewer", createdAt: NOW + 1 }));
      expect(await store.operators.get("op-none")).toBeUndefined();
      expect((await store.operators.activeByName("alice"))?.id).toBe("op1");
      await store.close();
      const again = await reopen();
      expect((await again.operators.list()).map((o) => o.name)).toEqual(["alice", "bob"]);
    });

    test("two in force may not share a name; a revoked one frees it", async () => {
      const store = await fresh();
      await store.write((tx) => tx.operators.add(operator("op1", "alice")));
      await expect(store.write((tx) => tx.operators.add(operator("op2", "alice")))).rejects.toThrow();
      expect(await store.write((tx) => tx.operators.revoke("op1", NOW + 5))).toBe(true);
      await store.write((tx) => tx.operators.add(operator("op2", "alice")));
      expect((await store.operators.activeByName("alice"))?.id).toBe("op2");
      expect((await store.operators.get("op1"))?.revokedAt).toBe(NOW + 5);
    });

    test("rotation replaces the verifier of one in force; revoked or unknown ones say false", async () => {
      const store = await fresh();
      await store.write((tx) => tx.operators.add(operator("op1", "alice")));
      expect(await store.write((tx) => tx.operators.rotate("op1", "scrypt$new", NOW + 1))).toBe(true);
      expect(await store.operators.get("op1")).toMatchObject({ verifier: "scrypt$new", rotatedAt: NOW + 1 });
      expect(await store.write((tx) => tx.operators.revoke("op1", NOW + 2))).toBe(true);
      expect(await store.write((tx) => tx.operators.revoke("op1", NOW + 3))).toBe(false);
      expect(await store.write((tx) => tx.operators.rotate("op1", "scrypt$newer", NOW + 3))).toBe(false);
      expect(await store.write((tx) => tx.operators.rotate("op-none", "x", NOW))).toBe(false);
      expect((await store.operators.get("op1"))?.verifier).toBe("scrypt$new");
    });
  });

  describe(`${name}: audit trail`, () => {
    const record = (seq: number): AuditRecord => ({
      seq,
      at: NOW + seq,
      actor: seq % 2 ? "admin" : "role:supervisor",
      action: "decision.issue",
      subject: `dec_${seq}`,
      detail: { type: "FREEZE", nested: { n: seq } },
      prevHash: seq === 1 ? "" : `h${seq - 1}`,
      hash: `h${seq}`,
    });

    test("appended records read back whole: the last, oldest first after a seq, newest first before one; kept across a reopen", async () => {
      const { store, reopen } = await open();
      expect(await store.audit.last()).toBeUndefined();
      await store.write(async (tx) => {
        for (const seq of [1, 2, 3, 4]) await tx.audit.append(record(seq));
      });
      expect(await store.audit.last()).toEqual(record(4));
      expect(await store.audit.after(1, 2)).toEqual([record(2), record(3)]);
      expect(await store.audit.before(undefined, 2)).toEqual([record(4), record(3)]);
      expect(await store.audit.before(3, 10)).toEqual([record(2), record(1)]);
      await store.close();
      expect((await (await reopen()).audit.after(0, 10)).map((r) => r.seq)).toEqual([1, 2, 3, 4]);
    });

    test("a seq appended twice is refused", async () => {
      const store = await fresh();
      await store.write((tx) => tx.audit.append(record(1)));
      await expect(store.write((tx) => tx.audit.append(record(1)))).rejects.toThrow();
    });
  });

  describe(`${name}: metric buckets`, () => {
    const MINUTE = 60_000;
    const T0 = Math.floor(NOW / MINUTE) * MINUTE;
    const bucket = (nodeId: string, at: number, pass = 1) => ({
      nodeId,
      at,
      load: 0.5,
      rssBytes: 40_000_000,
      outboxDepth: 3,
      verdicts: { PASS: pass, HOLD: 2 },
      byReason: { COOLDOWN: 2 },
    });

    test("a node's buckets read back oldest first from a time on; a minute written again is replaced; ids not registered skipped", async () => {
      const store = await fresh();
      await store.write(async (tx) => {
        await tx.nodes.save(node("pi-1"));
        await tx.nodes.save(node("pi-2"));
        await tx.metricBuckets.add([bucket("pi-1", T0 + MINUTE), bucket("pi-1", T0), bucket("pi-2", T0), bucket("pi-ghost", T0)]);
        await tx.metricBuckets.add([{ ...bucket("pi-1", T0 + MINUTE, 7), load: null, rssBytes: null, outboxDepth: null, byReason: {} }]);
      });
      expect(await store.metricBuckets.list("pi-1", T0)).toEqual([
        bucket("pi-1", T0),
        { ...bucket("pi-1", T0 + MINUTE, 7), load: null, rssBytes: null, outboxDepth: null, byReason: {} },
      ]);
      expect((await store.metricBuckets.list("pi-1", T0 + 1)).map((b) => b.at)).toEqual([T0 + MINUTE]);
      expect(await store.metricBuckets.list("pi-ghost", 0)).toEqual([]);
    });

    test("replicas' shares of a minute add up: counts and reasons summed, gauges the latest share's where it has them", async () => {
      const store = await fresh();
      await store.write(async (tx) => {
        await tx.nodes.save(node("pi-1"));
        await tx.metricBuckets.addShares([bucket("pi-1", T0, 2), bucket("pi-ghost", T0), { ...bucket("pi-1", T0, 1), verdicts: { PASS: 1, HOLD: 0 }, byReason: {} }]);
        await tx.metricBuckets.addShares([{ ...bucket("pi-1", T0, 4), load: 0.75, rssBytes: null, byReason: { COOLDOWN: 1, EDGE: 5 } }]);
        await tx.metricBuckets.addShares([{ ...bucket("pi-1", T0 + MINUTE, 1), byReason: {} }]);
      });
      const [first, second] = await store.metricBuckets.list("pi-1", T0);
      expect(first).toEqual({ ...bucket("pi-1", T0, 7), verdicts: { PASS: 7, HOLD: 4 }, load: 0.75, byReason: { COOLDOWN: 3, EDGE: 5 } });
      expect(second).toEqual({ ...bucket("pi-1", T0 + MINUTE, 1), byReason: {} });
      expect(await store.metricBuckets.list("pi-ghost", 0)).toEqual([]);
    });

    test("pruned before a time, and gone with their node", async () => {
      const store = await fresh();
      await store.write(async (tx) => {
        await tx.nodes.save(node("pi-1"));
        await tx.nodes.save(node("pi-2"));
        await tx.metricBuckets.add([0, 1, 2].flatMap((m) => [bucket("pi-1", T0 + m * MINUTE), bucket("pi-2", T0 + m * MINUTE)]));
      });
      expect(await store.write((tx) => tx.metricBuckets.prune(T0 + 2 * MINUTE))).toBe(4);
      expect((await store.metricBuckets.list("pi-1", 0)).map((b) => b.at)).toEqual([T0 + 2 * MINUTE]);
      await store.write((tx) => tx.nodes.delete("pi-2"));
      expect(await store.metricBuckets.list("pi-2", 0)).toEqual([]);
    });
  });

  describeWorkContract(name, fresh);

  describe(`${name}: hub values`, () => {
    test("kept by key, replaced on put", async () => {
      const store = await fresh();
      expect(await store.hubValues.get("hub_keys")).toBeUndefined();
      await store.write((tx) => tx.hubValues.put("hub_keys", "first"));
      await store.write((tx) => tx.hubValues.put("hub_keys", "second"));
      expect(await store.hubValues.get("hub_keys")).toBe("second");
      expect(await store.write((tx) => tx.hubValues.delete("hub_keys"))).toBe(true);
      expect(await store.write((tx) => tx.hubValues.delete("hub_keys"))).toBe(false);
      expect(await store.hubValues.get("hub_keys")).toBeUndefined();
    });
  });

  describe(`${name}: writes`, () => {
    test("a write resolves with its work's result, and what it wrote is read back after", async () => {
      const store = await fresh();
      const result = await store.write(async (tx) => {
        await tx.tombstones.put({ nodeId: "pi-1", removedAt: NOW, publicKey: "k", readmittedAt: null });
        return "done";
      });
      expect(result).toBe("done");
      expect(await store.tombstones.count()).toBe(1);
    });

    test("a write whose work throws leaves nothing it wrote and rejects with its error; writes beside it commit", async () => {
      const store = await fresh();
      const failure = new Error("the work gave up halfway");
      const results = await Promise.allSettled([
        store.write((tx) => tx.tokens.add(token("h-before"))),
        store.write(async (tx) => {
          await tx.tokens.add(token("h-failed"));
          await tx.nodes.save(node("pi-failed"));
          throw failure;
        }),
        store.write((tx) => tx.tokens.add(token("h-after"))),
      ]);
      expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
      expect((results[1] as PromiseRejectedResult).reason).toBe(failure);
      expect(await store.tokens.known("h-failed", NOW)).toBe(false);
      expect(await store.nodes.get("pi-failed")).toBeUndefined();
      expect(await store.tokens.known("h-before", NOW)).toBe(true);
      expect(await store.tokens.known("h-after", NOW)).toBe(true);
    });

    test("a write sees what it wrote before committing", async () => {
      const store = await fresh();
      const seen = await store.write(async (tx) => {
        await tx.nodes.save(node("pi-1"));
        return tx.nodes.get("pi-1");
      });
      expect(seen?.nodeId).toBe("pi-1");
    });

    test("100 writes at once all commit", async () => {
      const store = await fresh();
      await Promise.all(Array.from({ length: 100 }, (_, i) => store.write((tx) => tx.tokens.add(token(`h-${i}`)))));
      for (let i = 0; i < 100; i++) expect(await store.tokens.known(`h-${i}`, NOW)).toBe(true);
    });

    test("what was committed is there after reopening; close commits what was queued", async () => {
      const { store, reopen } = await open();
      await store.write(async (tx) => {
        await tx.nodes.save(node("pi-1"));
        await tx.tokens.add(token("h-1", { usesLeft: 2, label: "persisted" }));
        await tx.tombstones.put({ nodeId: "gone", removedAt: NOW, publicKey: "key", readmittedAt: null });
        await tx.decisions.add(decision(1, "pi-1"), ["pi-1"], OPERATOR);
        await tx.hubValues.put("hub_keys", "keys");
      });
      const queued = store.write((tx) => tx.tombstones.put({ nodeId: "back", removedAt: NOW, publicKey: "key", readmittedAt: NOW + 1 }));
      await store.close();
      await queued;
      const again = await reopen();
      expect(await again.nodes.get("pi-1")).toEqual(node("pi-1"));
      expect(await again.tokens.valid("h-1", NOW)).toEqual({ label: "persisted", usesLeft: 2, expiresAt: NOW + HOUR, registrations: 0 });
      expect(await again.tombstones.standing("gone")).toEqual({ nodeId: "gone", removedAt: NOW, publicKey: "key", readmittedAt: null });
      expect((await again.tombstones.get("back"))?.readmittedAt).toBe(NOW + 1);
      expect((await again.decisions.get("dec_1"))?.targets).toEqual(["pi-1"]);
      expect(await again.hubValues.get("hub_keys")).toBe("keys");
      expect(await again.write((tx) => tx.decisions.nextSeq())).toBe(2);
    });

    test("a store that is open answers healthy", async () => {
      const store = await fresh();
      expect(await store.healthy()).toBe(true);
    });
  });
}
