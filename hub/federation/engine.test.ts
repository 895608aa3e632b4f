// The engine: conflicts settled by role priority (the table), modes,
// throttles (interval, hourly cap), an operator's OVERRIDE silencing a
// role, and the alerts.
import { describe, expect, test } from "bun:test";
import { DEFAULT_POLICY, type KernelPolicy } from "../../kernel/policy.ts";
import type { FederationEvent } from "../../protocol/federation-events.ts";
import { configWith, healthEvent, modelEvent, replay, s, snapshots, tick } from "../../test/fixtures/federation.ts";
import type { FederationConfig } from "./config.ts";
import { ConflictWindow } from "./conflicts.ts";
import { FederationEngine } from "./engine.ts";
import type { DecisionRecord, EngineStep } from "./records.ts";
import { ROLE_NAMES, type Direction, type Proposal, type RoleName } from "./role.ts";

function run(config: FederationConfig, events: Iterable<FederationEvent>, policyOf: (target: string) => KernelPolicy = () => DEFAULT_POLICY) {
  const engine = new FederationEngine(config, { policyOf });
  const steps: EngineStep[] = [];
  for (const event of events) steps.push(engine.handle(event));
  return { engine, decisions: steps.flatMap((x) => x.decisions), conflicts: steps.flatMap((x) => x.conflicts), alerts: steps.flatMap((x) => x.alerts) };
}

function made(role: RoleName, direction: Direction, target = "a", at = s(0)): DecisionRecord {
  return { id: `d-${role}`, at, role, rule: "r", type: "MODE_CHANGE", target, payload: {}, direction, reason: "", inputs: {}, thresholds: {}, mode: "active", issued: true };
}

function proposal(role: RoleName, direction: Direction, target = "a"): Proposal {
  return { role, rule: "r", type: "MODE_CHANGE", target, payload: {}, direction, reason: "", inputs: {}, thresholds: {} };
}

describe("conflict resolution table", () => {
  const pairs = ROLE_NAMES.flatMap((first) => ROLE_NAMES.filter((second) => second !== first).map((second) => [first, second] as const));

  test.each(pairs)("%s decided, then %s proposes the opposite on the same field and target: the higher priority wins", (first, second) => {
    const window = new ConflictWindow(300_000);
    window.record(made(first, "tighten"), ["mode"]);
    const judged = window.judge(proposal(second, "loosen"), ["mode"], s(10));
    const firstWins = ROLE_NAMES.indexOf(first) < ROLE_NAMES.indexOf(second);
    expect(judged.lost).toBe(firstWins);
    expect(judged.conflicts).toHaveLength(1);
    expect(judged.conflicts[0]!.winner.role).toBe(firstWins ? first : second);
    expect(judged.conflicts[0]!.loser.role).toBe(firstWins ? second : first);
    expect(judged.conflicts[0]!.fields).toEqual(["mode"]);
  });

  test.each([
    ["same direction", made("supervisor", "tighten"), proposal("researcher", "tighten"), ["mode"], s(10), false],
    ["another field", made("supervisor", "tighten"), proposal("researcher", "loosen"), ["max_leverage"], s(10), false],
    ["another node", made("supervisor", "tighten", "a"), proposal("researcher", "loosen", "b"), ["mode"], s(10), false],
    ["the fleet against a node", made("supervisor", "tighten", "fleet"), proposal("researcher", "loosen", "b"), ["mode"], s(10), true],
    ["a node against the fleet", made("supervisor", "tighten", "b"), proposal("researcher", "loosen", "fleet"), ["mode"], s(10), true],
    ["after the window", made("supervisor", "tighten"), proposal("researcher", "loosen"), ["mode"], s(301), false],
    ["a neutral proposal", made("supervisor", "tighten"), proposal("researcher", "neutral"), ["mode"], s(10), false],
  ] as const)("%s: conflict %p", (_name, decision, next, fields, at, conflict) => {
    const window = new ConflictWindow(300_000);
    window.record(decision, ["mode"]);
    const judged = window.judge(next, [...fields], at);
    expect(judged.conflicts.length > 0).toBe(conflict);
    expect(judged.lost).toBe(conflict);
  });

  test("a conflict is recorded once, however often the loser tries again", () => {
    const window = new ConflictWindow(300_000);
    window.record(made("supervisor", "tighten"), ["mode"]);
    expect(window.judge(proposal("ess_guard", "loosen"), ["mode"], s(10)).conflicts).toHaveLength(1);
    expect(window.judge(proposal("ess_guard", "loosen"), ["mode"], s(15))).toEqual({ lost: true, conflicts: [], beaten: [] });
  });

  test("in the engine: the Supervisor's EMERGENCY beats the ESS guard's resume of the same node; both proposals recorded and counted", () => {
    const config = configWith({ engine: { min_interval_s: 0 }, roles: { supervisor: { system_status: { lookback_s: 15 } }, ess_guard: { sustained_warning: { recovery_s: 60, min_hold_s: 0 } } } }, ["supervisor", "ess_guard"]);
    const events = [
      healthEvent("a", s(0), "WARNING"),
      healthEvent("a", s(60), "WARNING"),
      healthEvent("a", s(120), "WARNING"), // ESS guard: SHADOW
      healthEvent("a", s(170), "NOMINAL"),
      healthEvent("a", s(180), "NOMINAL", "CRITICAL"),
      // Supervisor: EMERGENCY (CRITICAL over its 15 s lookback); in the same evaluation the ESS guard, 3 NOMINAL reports over 60 s, resumes LIVE.
      healthEvent("a", s(190), "NOMINAL", "CRITICAL"),
    ];
    const { decisions, records, run: replayRun } = replay(config, events);
    expect(decisions.map((d) => [d.role, d.type, d.payload.mode ?? null])).toEqual([
      ["ess_guard", "ESS_POLICY", null],
      ["ess_guard", "MODE_CHANGE", "SHADOW"],
      ["supervisor", "MODE_CHANGE", "EMERGENCY"],
    ]);
    const conflicts = records.filter((r) => r.kind === "conflict");
    expect(conflicts).toEqual([
      expect.objectContaining({
        at: s(190),
        fields: ["mode"],
        winner: expect.objectContaining({ role: "supervisor", rule: "system_status", payload: expect.objectContaining({ mode: "EMERGENCY" }), direction: "tighten" }),
        loser: expect.objectContaining({ role: "ess_guard", rule: "sustained_warning", payload: expect.objectContaining({ mode: "LIVE" }), direction: "loosen" }),
      }),
    ]);
    expect(replayRun.summary().conflicts).toBe(1);
  });
});

describe("modes", () => {
  const freezing = () => snapshots("a", 0, 3, () => 20);

  test("active issues, advisory records without issuing, off evaluates nothing", () => {
    const active = run(configWith({}, ["supervisor"]), freezing());
    expect(active.decisions.map((d) => [d.type, d.mode, d.issued])).toEqual([["FREEZE", "active", true]]);
    expect(active.alerts).toEqual([expect.objectContaining({ severity: "critical", kind: "supervisor_freeze" })]);

    const advisory = run(configWith({ roles: { supervisor: { mode: "advisory" } } }, ["supervisor"]), freezing());
    expect(advisory.decisions.map((d) => [d.type, d.mode, d.issued])).toEqual([["FREEZE", "advisory", false]]);
    expect(advisory.alerts).toEqual([]); // nothing was frozen

    const off = run(configWith({}, []), freezing());
    expect(off.decisions).toEqual([]);
    expect(off.engine.counters.evaluations).toBe(0);
    expect(off.engine.status().supervisor).toEqual({ mode: "off", enabled: false, last_evaluation: null, last_decision: null });
    expect(active.engine.status().supervisor).toMatchObject({ mode: "active", enabled: true, last_evaluation: s(10), last_decision: { type: "FREEZE" } });
  });

  test("a hot-reloaded config changes a role's mode from the next event on", () => {
    const engine = new FederationEngine(configWith({}, []), { policyOf: () => DEFAULT_POLICY });
    const [first, ...rest] = [...freezing()];
    expect(engine.handle(first!).decisions).toEqual([]);
    engine.setConfig(configWith({}, ["supervisor"]));
    expect(rest.flatMap((e) => engine.handle(e).decisions).map((d) => d.type)).toEqual(["FREEZE"]);
  });
});

describe("no flapping", () => {
  test("nothing equal to the policy in force is issued", () => {
    const relaxed = run(configWith({}, ["risk_officer"]), snapshots("a", 0, 3, () => 5), () => ({ ...DEFAULT_POLICY, max_leverage: 3, max_exposure_pct: 200, max_notional_usd: 2000 }));
    expect(relaxed.decisions).toEqual([]);
    expect(relaxed.engine.counters.refused.unchanged).toBe(1);
    // The Supervisor lifting a freeze the operator lifted already: nothing to issue.
    const config = configWith({ roles: { supervisor: { fleet_drawdown: { recovery_s: 10, min_hold_s: 0 } } } }, ["supervisor"]);
    // The policy in force stays unfrozen: the freeze was advisory, or an operator lifted it.
    const engine = new FederationEngine(config, { policyOf: () => DEFAULT_POLICY });
    const made = [...snapshots("a", 0, 3, () => 20)].flatMap((e) => engine.handle(e).decisions);
    expect(made.map((d) => d.type)).toEqual(["FREEZE"]);
    expect([...snapshots("a", 15, 10, () => 0)].flatMap((e) => engine.handle(e).decisions)).toEqual([]);
  });

  test("min_interval_s between two decisions of a role to one target", () => {
    // 5 then 13 ten seconds later: step 1 at once, step 3 only 300 s after it.
    const events = [...snapshots("a", 0, 3, () => 5), ...snapshots("a", 15, 100, () => 13)];
    const { decisions, engine } = run(configWith({}, ["risk_officer"]), events);
    expect(decisions.map((d) => [(d.at - s(0)) / 1000, d.payload.max_leverage])).toEqual([
      [10, 3],
      [310, 1],
    ]);
    expect(engine.counters.refused.too_soon).toBeGreaterThan(0);
  });

  test("no more than max_decisions_per_hour per role", () => {
    const nodes = ["a", "b", "c", "d", "e"];
    const events = nodes.flatMap((node, i) => [...snapshots(node, i, 3, () => 13)]).sort((x, y) => x.at - y.at);
    const later = nodes.flatMap((node, i) => [...snapshots(node, 3601 + i, 3, () => 13)]);
    const { decisions, engine } = run(configWith({ engine: { max_decisions_per_hour: 2 } }, ["risk_officer"]), [...events, ...later]);
    expect(decisions.map((d) => [d.target, Math.floor((d.at - s(0)) / 3_600_000)])).toEqual([
      ["a", 0],
      ["b", 0],
      ["c", 1],
      ["d", 1],
    ]);
    expect(engine.counters.capped_evaluations).toBeGreaterThan(0);
  });

  test("an operator's OVERRIDE silences the role on that decision for override_suppression_s, then it decides afresh", () => {
    const config = configWith({ engine: { override_suppression_s: 600 } }, ["risk_officer"]);
    const engine = new FederationEngine(config, { policyOf: () => DEFAULT_POLICY });
    const first = [...snapshots("a", 0, 3, () => 13)].flatMap((e) => engine.handle(e).decisions);
    expect(first).toHaveLength(1);
    engine.noteOverride(first[0]!, s(20));
    const during = [...snapshots("a", 25, 119, () => 13)].flatMap((e) => engine.handle(e).decisions);
    expect(during).toEqual([]);
    expect(engine.counters.refused.suppressed).toBeGreaterThan(0);
    const after = [...snapshots("a", 620, 3, () => 13)].flatMap((e) => engine.handle(e).decisions);
    expect(after.map((d) => [(d.at - s(0)) / 1000, d.payload.max_leverage])).toEqual([[620, 1]]);
  });
});

describe("alerts", () => {
  test("MICRO: high; a freeze by the Supervisor: critical", () => {
    const { alerts } = run(configWith({}, ["supervisor", "capital_allocator"]), snapshots("a", 0, 3, () => 20));
    expect(alerts.map((a) => [a.severity, a.kind])).toEqual([
      ["critical", "supervisor_freeze"],
      ["high", "capital_micro"],
    ]);
    expect(alerts[0]!.message).toContain("trading frozen on fleet by the Supervisor");
  });

  test("conflict_alert_per_hour conflicts within an hour: one medium alert", () => {
    const config = configWith({ engine: { min_interval_s: 0 }, roles: { supervisor: { system_status: { lookback_s: 15 } }, ess_guard: { sustained_warning: { recovery_s: 60, min_hold_s: 0 } } } }, ["supervisor", "ess_guard"]);
    const node = (id: string, t: number) => [
      healthEvent(id, s(t), "WARNING"),
      healthEvent(id, s(t + 60), "WARNING"),
      healthEvent(id, s(t + 120), "WARNING"),
      healthEvent(id, s(t + 170), "NOMINAL"),
      healthEvent(id, s(t + 180), "NOMINAL", "CRITICAL"),
      healthEvent(id, s(t + 190), "NOMINAL", "CRITICAL"),
    ];
    const events = ["a", "b", "c", "d", "e", "f"].flatMap((id, i) => node(id, i * 200));
    // Every node in SHADOW, as the ESS guard put them.
    const { alerts, conflicts } = run(config, events, () => ({ ...DEFAULT_POLICY, mode: "SHADOW" }));
    expect(conflicts).toHaveLength(6);
    expect(alerts.filter((a) => a.kind === "role_conflicts")).toEqual([{ severity: "medium", kind: "role_conflicts", message: "5 role conflicts within an hour (alert at 5)", at: s(990) }]);
  });

  test("the engine unhealthy: no input for no_input_alert_s (one low alert until input comes), or a role that throws", () => {
    const silent = run(configWith({}, []), [tick(s(0)), snapshots("a", 0, 1, () => 0).next().value!, tick(s(200)), tick(s(300)), tick(s(400))]);
    expect(silent.alerts).toEqual([{ severity: "low", kind: "engine_unhealthy", message: "no federation input for 300 s (alert at 300 s)", at: s(300) }]);

    const broken = run(
      configWith({ engine: { evaluate_every_s: 1 } }, ["strategy_allocator"]),
      [0, 1, 2].map((i) => modelEvent("a", s(i), "M")).concat([tick(s(3)), tick(s(4))]),
      (target) => {
        throw new Error(`no policy for ${target}`);
      },
    );
    expect(broken.decisions).toEqual([]);
    expect(broken.alerts).toEqual([{ severity: "low", kind: "engine_unhealthy", message: "strategy_allocator failed to evaluate: no policy for fleet", at: s(2) }]);
    expect(broken.engine.counters.errors).toBe(3);
  });
});
