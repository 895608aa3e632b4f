// The engine rebuilt from a registry (rebuild.ts) against one that never
// stopped: the hub's loop (every step's records and latches kept, as
// LiveFederation keeps them) runs a generated fleet stream into a real
// registry file; an engine rebuilt from it at a cut goes on deciding
// exactly as the one that went on (same decisions, same ids), the same
// records rebuild the same engine, and the rebuild runs no role and writes
// nothing.
import { afterEach, expect, test } from "bun:test";
import type { FederationEvent } from "../../protocol/federation-events.ts";
import { registeredNode } from "../../test/fixtures/node-record.ts";
import { fleetStream } from "../../test/fixtures/federation-stream.ts";
import { cleanUp, tempDir } from "../../test/helpers.ts";
import type { HubStore, NodeFederationEvent } from "../store/hub-store.ts";
import { openSqliteStore } from "../store/sqlite/sqlite-store.ts";
import { FederationConfigSchema, type FederationConfig } from "./config.ts";
import { FederationEngine } from "./engine.ts";
import { PolicyBook } from "./policy-book.ts";
import { rebuildEngine, rebuildWindowMs } from "./rebuild.ts";
import type { DecisionRecord, EngineStep } from "./records.ts";
import { ROLE_NAMES } from "./role.ts";

afterEach(cleanUp);

/** Every role active, deciding often: plenty of latches, throttles and conflicts to carry over. */
const CONFIG: FederationConfig = FederationConfigSchema.parse({
  engine: { min_interval_s: 60, max_decisions_per_hour: 8 },
  roles: Object.fromEntries(ROLE_NAMES.map((name) => [name, { mode: "active" }])),
});
const STREAM = [...fleetStream({ nodes: 12, durationS: 2400, seed: 11 })];
const CUT = Math.floor(STREAM.length * 0.6);

/** An engine whose policy in force is what its (and `before`'s) decisions put in force. */
function engineWithBook(before: readonly DecisionRecord[] = []): { engine: FederationEngine; book: PolicyBook } {
  const book = new PolicyBook();
  for (const decision of before) if (decision.issued) book.apply(decision);
  return { engine: new FederationEngine(CONFIG, { policyOf: book.policyOf }), book };
}

/** The hub's loop: each event recorded, handed to the engine, what it did kept. */
async function runLive(store: HubStore, engine: FederationEngine, book: PolicyBook, events: readonly FederationEvent[]): Promise<DecisionRecord[]> {
  const decided: DecisionRecord[] = [];
  for (const event of events) {
    const step: EngineStep = engine.handle(event);
    for (const decision of step.decisions) if (decision.issued) book.apply(decision);
    decided.push(...step.decisions);
    await store.write(async (tx) => {
      if (event.type !== "tick") await tx.federationEvents.add([event as NodeFederationEvent]);
      await tx.federationRoles.addDecisions(step.decisions);
      await tx.federationRoles.addConflicts(step.conflicts);
      await tx.federationRoles.moveLatches(step.latches);
    });
  }
  return decided;
}

function decideOn(engine: FederationEngine, book: PolicyBook, events: readonly FederationEvent[]): DecisionRecord[] {
  const decided: DecisionRecord[] = [];
  for (const event of events) {
    for (const decision of engine.handle(event).decisions) {
      if (decision.issued) book.apply(decision);
      decided.push(decision);
    }
  }
  return decided;
}

test("an engine rebuilt from the registry at a cut decides after it exactly as the one that never stopped; the same records rebuild the same engine; the rebuild runs no role and writes nothing", async () => {
  // The whole stream lies within the window a rebuild folds in.
  expect(STREAM.at(-1)!.at - STREAM[0]!.at).toBeLessThan(rebuildWindowMs(CONFIG));
  const store = openSqliteStore(tempDir());
  const nodes = [...new Set(STREAM.flatMap((e) => (e.type === "tick" ? [] : [e.node])))];
  await store.write(async (tx) => {
    for (const node of nodes) await tx.nodes.save(registeredNode(node, STREAM[0]!.at));
  });

  const live = engineWithBook();
  const beforeCut = await runLive(store, live.engine, live.book, STREAM.slice(0, CUT));
  expect(beforeCut.length).toBeGreaterThan(10);
  const cutAt = STREAM[CUT - 1]!.at;
  const latchesKept = (await store.federationRoles.latches()).length;
  expect(latchesKept).toBeGreaterThan(0);

  const rebuilt = [engineWithBook(beforeCut), engineWithBook(beforeCut)];
  for (const { engine } of rebuilt) {
    // The hub's fleet view knows no health the stream's events do not say (the stream begins in the window).
    const result = await rebuildEngine(engine, store, [], cutAt);
    expect(result).toMatchObject({ events: STREAM.slice(0, CUT).filter((e) => e.type !== "tick").length, latches: latchesKept });
    expect(engine.counters.evaluations).toBe(0);
  }
  expect((await store.federationRoles.decisions({ limit: 100_000 })).length).toBe(beforeCut.length);

  const after = STREAM.slice(CUT);
  const wentOn = decideOn(live.engine, live.book, after);
  expect(wentOn.length).toBeGreaterThan(5);
  const [first, second] = rebuilt.map(({ engine, book }) => decideOn(engine, book, after));
  expect(first).toEqual(wentOn);
  expect(second).toEqual(first);
  await store.close();
}, 30_000);

test("rebuilt without the kept latches and throttles (events only), the engine decides differently: what the registry keeps matters", async () => {
  const store = openSqliteStore(tempDir());
  const nodes = [...new Set(STREAM.flatMap((e) => (e.type === "tick" ? [] : [e.node])))];
  await store.write(async (tx) => {
    for (const node of nodes) await tx.nodes.save(registeredNode(node, STREAM[0]!.at));
  });
  const live = engineWithBook();
  const beforeCut = await runLive(store, live.engine, live.book, STREAM.slice(0, CUT));
  const eventsOnly = engineWithBook(beforeCut);
  for (const { event } of await store.federationEvents.list({ limit: 1_000_000 })) eventsOnly.engine.fold(event);
  const after = STREAM.slice(CUT);
  expect(decideOn(eventsOnly.engine, eventsOnly.book, after)).not.toEqual(decideOn(live.engine, live.book, after));
  await store.close();
}, 30_000);

test("an operator's OVERRIDE of a role's decision in the audit trail keeps silencing that role after the rebuild, until the suppression time has passed", async () => {
  const config = FederationConfigSchema.parse({
    engine: { min_interval_s: 0, override_suppression_s: 600 },
    roles: { supervisor: { mode: "active", fleet_drawdown: { method: "latest", lookback_s: 1, min_samples: 1 } } },
  });
  const T = 1_764_000_000_000;
  const store = openSqliteStore(tempDir());
  const message = (seq: number, type: string, payload: Record<string, unknown>, issuedAt: number) =>
    ({ id: `dec_${seq}`, seq, type, target: "fleet", payload, issuedAt, expiresAt: issuedAt + 3_600_000, sig: "sig" }) as never;
  await store.write(async (tx) => {
    await tx.nodes.save(registeredNode("pi-1", T));
    await tx.decisions.add(message(1, "FREEZE", { severity: "HIGH" }, T), ["pi-1"], { kind: "role", role: "supervisor", rule: "fleet_drawdown", inputs: {}, thresholds: {} });
    await tx.decisions.add(message(2, "OVERRIDE", { overridden_decision_id: "dec_1", reason: "false alarm" }, T + 1000), ["pi-1"], { kind: "operator" });
  });
  const drawdown = (at: number): FederationEvent => ({ type: "portfolio", node: "pi-1", at, report: { total_equity: 10_000, drawdown_pct: 20, max_drawdown_pct: 20, realized_pnl_today: 0, unrealized_pnl: 0, num_positions: 0, total_exposure_usd: 0, win_rate_today: 0, sharpe_ratio_7d: 0, ts: at } });
  const freezesAfterRebuildAt = async (now: number) => {
    const engine = new FederationEngine(config, { policyOf: new PolicyBook().policyOf });
    await rebuildEngine(engine, store, [], now);
    return [engine.handle(drawdown(now + 1000)), engine.handle(drawdown(now + 2000))].flatMap((step) => step.decisions).filter((d) => d.type === "FREEZE").length;
  };
  expect(await freezesAfterRebuildAt(T + 60_000)).toBe(0);
  expect(await freezesAfterRebuildAt(T + 1000 + 600_000)).toBe(1);
  await store.close();
});

test("a registry from before latches were kept: a fleet freeze the Supervisor issued gets its latch back from the audit trail, so it is not issued again and lifts after recovery and the hold", async () => {
  const config = FederationConfigSchema.parse({
    engine: { min_interval_s: 0 },
    roles: { supervisor: { mode: "active", fleet_drawdown: { method: "latest", lookback_s: 1, min_samples: 1, recovery_s: 1, min_hold_s: 60 } } },
  });
  const T = 1_764_000_000_000;
  const store = openSqliteStore(tempDir());
  const freeze = { id: "dec_1", seq: 1, type: "FREEZE", target: "fleet", payload: { severity: "HIGH", reason: "drawdown" }, issuedAt: T, expiresAt: T + 3_600_000, sig: "sig" } as never;
  await store.write(async (tx) => {
    await tx.nodes.save(registeredNode("pi-1", T));
    await tx.decisions.add(freeze, ["pi-1"], { kind: "role", role: "supervisor", rule: "fleet_drawdown", inputs: {}, thresholds: {} });
  });
  const drawdown = (at: number, drawdown_pct: number): FederationEvent => ({ type: "portfolio", node: "pi-1", at, report: { total_equity: 10_000, drawdown_pct, max_drawdown_pct: drawdown_pct, realized_pnl_today: 0, unrealized_pnl: 0, num_positions: 0, total_exposure_usd: 0, win_rate_today: 0, sharpe_ratio_7d: 0, ts: at } });
  const decidedAfterRebuild = async (withPolicy: boolean) => {
    const book = new PolicyBook();
    book.apply({ id: "fed-0", at: T, role: "supervisor", rule: "fleet_drawdown", type: "FREEZE", target: "fleet", payload: { severity: "HIGH", reason: "drawdown" }, direction: "tighten", reason: "drawdown", inputs: {}, thresholds: {}, mode: "active", issued: true });
    const engine = new FederationEngine(config, { policyOf: book.policyOf });
    await rebuildEngine(engine, store, [], T + 10_000, withPolicy ? book.policyOf : undefined);
    return [drawdown(T + 20_000, 20), drawdown(T + 70_000, 2), drawdown(T + 76_000, 2)].flatMap((event) => engine.handle(event).decisions.filter((d) => d.role === "supervisor").map((d) => `${d.type} ${d.payload.mode ?? ""}`.trim()));
  };
  expect(await decidedAfterRebuild(true)).toEqual(["MODE_CHANGE LIVE"]);
  // Without the policy in force the rebuild cannot tell the freeze stands: the Supervisor freezes again and cannot lift before a new hold.
  expect(await decidedAfterRebuild(false)).toEqual(["FREEZE"]);
  await store.close();
});

test("events read with `at` after the rebuild's time (another replica's clock a little ahead) are not folded in but handed back, in order, for the engine to handle once rebuilt", async () => {
  const T = 1_764_000_000_000;
  const store = openSqliteStore(tempDir());
  const health = (at: number): NodeFederationEvent => ({ type: "node_health", node: "pi-1", at, state: "healthy" });
  await store.write(async (tx) => {
    await tx.nodes.save(registeredNode("pi-1", T));
    await tx.federationEvents.add([health(T), health(T + 2000), health(T + 1000), health(T + 3000)]);
  });
  const engine = new FederationEngine(CONFIG, { policyOf: new PolicyBook().policyOf });
  const rebuilt = await rebuildEngine(engine, store, [], T + 1500);
  expect(rebuilt.events).toBe(4);
  expect(rebuilt.later.map((event) => event.at)).toEqual([T + 2000, T + 3000]);
  expect((await store.federationEvents.committed({ limit: 10, after: rebuilt.eventsCursor })).events).toEqual([]); // the cursor is past them
  await store.close();
});
