// Properties of the engine over generated fleet streams (random walks with
// drawdown episodes and shocks, test/fixtures/federation-stream.ts) and
// generated configs: the same stream twice gives the same decisions; no
// decision equals the policy in force; no role exceeds its hourly cap.
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { applyPolicyUpdate, DEFAULT_POLICY, type KernelPolicy } from "../../kernel/policy.ts";
import { decisionEffect } from "../../protocol/decision-policy.ts";
import { canonicalJson } from "../../protocol/signing.ts";
import { fleetStream } from "../../test/fixtures/federation-stream.ts";
import { FederationConfigSchema } from "./config.ts";
import { Replay, type ReplayRecord } from "./replay.ts";
import type { DecisionRecord } from "./records.ts";
import { ROLE_NAMES } from "./role.ts";

const scenario = fc.record({
  seed: fc.integer({ min: 1, max: 1_000_000 }),
  nodes: fc.integer({ min: 1, max: 6 }),
  hours: fc.integer({ min: 1, max: 4 }),
  min_interval_s: fc.integer({ min: 0, max: 900 }),
  max_decisions_per_hour: fc.integer({ min: 1, max: 30 }),
  freeze_at_pct: fc.integer({ min: 3, max: 20 }),
  /** The fleet's policy at the start, some of it what the roles would set (so "already in force" happens). */
  start: fc.constantFrom<Record<string, unknown>>(
    {},
    { max_leverage: 3, max_exposure_pct: 200, max_notional_usd: 2000 },
    { capital: { profile: "SMALL" }, cashflow: { profit_lock_pct: 30, reinvest_pct: 70, reserve_buffer_pct: 10 } },
    { ess: { caution_threshold_pct: 3, warning_threshold_pct: 6, critical_threshold_pct: 10 }, mode: "SHADOW" },
  ),
  modes: fc.array(fc.constantFrom("active", "advisory", "off"), { minLength: ROLE_NAMES.length, maxLength: ROLE_NAMES.length }),
});

type Scenario = typeof scenario extends fc.Arbitrary<infer T> ? T : never;

function configOf(s: Scenario) {
  const roles: Record<string, object> = {};
  ROLE_NAMES.forEach((name, i) => (roles[name] = { mode: s.modes[i] }));
  roles.supervisor = { ...roles.supervisor, fleet_drawdown: { freeze_at_pct: s.freeze_at_pct, lift_below_pct: s.freeze_at_pct / 2 } };
  return FederationConfigSchema.parse({ engine: { min_interval_s: s.min_interval_s, max_decisions_per_hour: s.max_decisions_per_hour }, roles });
}

function startOf(s: Scenario): KernelPolicy {
  const start = applyPolicyUpdate(DEFAULT_POLICY, s.start);
  if (!start.ok) throw new Error(start.violations.join("; "));
  return start.policy;
}

function replayOf(s: Scenario): { replay: Replay; records: ReplayRecord[]; decisions: DecisionRecord[] } {
  const replay = new Replay(configOf(s), startOf(s));
  const records: ReplayRecord[] = [];
  for (const event of fleetStream({ nodes: s.nodes, durationS: s.hours * 3600, seed: s.seed })) records.push(...replay.event(event));
  const decisions = records.filter((r) => r.kind === "decision") as unknown as DecisionRecord[];
  return { replay, records, decisions };
}

describe("federation engine properties", () => {
  test("determinism: the same stream and config twice give the same decisions, conflicts and alerts", () => {
    fc.assert(
      fc.property(scenario, (s: Scenario) => {
        const first = replayOf(s);
        const second = replayOf(s);
        expect(second.records).toEqual(first.records);
        expect(second.replay.summary()).toEqual(first.replay.summary());
      }),
      { numRuns: 12 },
    );
  });

  test("no decision equals the policy in force when it is made", () => {
    fc.assert(
      fc.property(scenario, (s: Scenario) => {
        const replay = new Replay(configOf(s), startOf(s));
        for (const event of fleetStream({ nodes: s.nodes, durationS: s.hours * 3600, seed: s.seed })) {
          // Each decision, applied in order to the policy its target has then, must change it.
          const policyOf = replay.book.policyOf;
          const step = replay.engine.handle(event);
          for (const decision of step.decisions) {
            const effect = decisionEffect(decision.type, decision.payload, decision.at);
            if (effect.kind === "policy") {
              const current = policyOf(decision.target);
              const next = applyPolicyUpdate(current, effect.update);
              expect(next.ok).toBe(true);
              if (next.ok) expect(canonicalJson(next.policy)).not.toBe(canonicalJson(current));
            }
            replay.book.apply(decision);
          }
        }
      }),
      { numRuns: 12 },
    );
  });

  test("no role makes more than max_decisions_per_hour in any hour", () => {
    fc.assert(
      fc.property(scenario, (s: Scenario) => {
        const { decisions } = replayOf(s);
        for (const role of ROLE_NAMES) {
          const times = decisions.filter((d) => d.role === role).map((d) => d.at);
          for (let i = 0; i < times.length; i++) {
            const inHour = times.filter((t) => t >= times[i]! && t < times[i]! + 3_600_000).length;
            expect(inHour).toBeLessThanOrEqual(s.max_decisions_per_hour);
          }
        }
      }),
      { numRuns: 12 },
    );
  });
});
