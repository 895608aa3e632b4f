// Tests for foldPolicy (policy-fold.ts): a desired policy folded again from
// the audit trail, without what OVERRIDEs reversed.
import { describe, expect, test } from "bun:test";
import { applyPolicyUpdate, DEFAULT_POLICY, type KernelPolicy, type PolicyUpdate } from "../../kernel/policy.ts";
import { decisionEffect } from "../../protocol/decision-policy.ts";
import type { DecisionType } from "../../protocol/messages.ts";
import type { DecisionHistoryEntry } from "../store/hub-store.ts";
import { seededRandom } from "../../lib/seeded-random.ts";
import { entry, T0 } from "../../test/fixtures/decision-history.ts";
import { foldPolicies, foldPolicy } from "./policy-fold.ts";

/** DEFAULT_POLICY with `updates` applied in order. */
function policyOf(...updates: PolicyUpdate[]): KernelPolicy {
  let policy: KernelPolicy = { ...DEFAULT_POLICY };
  for (const update of updates) {
    const next = applyPolicyUpdate(policy, update);
    if (!next.ok) throw new Error(next.violations.join("; "));
    policy = next.policy;
  }
  return policy;
}

function folded(target: string, history: DecisionHistoryEntry[], since?: number): KernelPolicy {
  const result = foldPolicy(target, history, since);
  if (!result.ok) throw new Error(result.problem);
  return result.value;
}

describe("foldPolicy", () => {
  test("an empty trail folds to the default policy", () => {
    expect(folded("fleet", [])).toEqual({ ...DEFAULT_POLICY });
  });

  test("the fleet's policy folds fleet decisions in issue order; node decisions do not reach it", () => {
    const history = [
      entry("SYMBOL_UNIVERSE", "fleet", { active_symbols: ["BTCUSDT"] }),
      entry("RISK_ADJUSTMENT", "pi-1", { max_leverage: 2 }),
      entry("SYMBOL_UNIVERSE", "fleet", { active_symbols: ["ETHUSDT"] }),
    ];
    expect(folded("fleet", history)).toEqual(policyOf({ active_symbols: ["ETHUSDT"] }));
    expect(folded("pi-1", history)).toEqual(policyOf({ active_symbols: ["BTCUSDT"] }, { max_leverage: 2 }, { active_symbols: ["ETHUSDT"] }));
    expect(folded("pi-2", history)).toEqual(folded("fleet", history)); // no decision of its own
  });

  test("an overridden decision is left out, and what came before and after it stays", () => {
    const history = [
      entry("RISK_ADJUSTMENT", "fleet", { max_leverage: 3 }),
      entry("SYMBOL_UNIVERSE", "fleet", { active_symbols: ["BTCUSDT"] }, { overriddenBy: "dec_x" }),
      entry("ESS_POLICY", "fleet", { enforcement: "audit" }),
    ];
    expect(folded("fleet", history)).toEqual(policyOf({ max_leverage: 3 }, { enforcement: "audit" }));
  });

  test("overriding a decision a later one overwrote changes nothing; overriding the later one brings the earlier back", () => {
    const first = entry("RISK_ADJUSTMENT", "fleet", { max_leverage: 2 });
    const second = entry("RISK_ADJUSTMENT", "fleet", { max_leverage: 5 });
    expect(folded("fleet", [{ ...first, overriddenBy: "dec_o" }, second]).max_leverage).toBe(5);
    expect(folded("fleet", [first, { ...second, overriddenBy: "dec_o" }]).max_leverage).toBe(2);
  });

  test("a node's own decisions count from its registration on: those to an earlier node of the id are not folded", () => {
    const registeredAt = T0 + 500;
    const history = [
      entry("MODE_CHANGE", "pi-1", { mode: "SHADOW" }, { at: T0 + 100 }), // the node removed since
      entry("RISK_ADJUSTMENT", "fleet", { max_leverage: 4 }, { at: T0 + 200 }), // fleet decisions count whenever they came
      entry("SYMBOL_UNIVERSE", "pi-1", { active_symbols: ["SOLUSDT"] }, { at: registeredAt }), // from the registration instant on
    ];
    expect(folded("pi-1", history, registeredAt)).toEqual(policyOf({ max_leverage: 4 }, { active_symbols: ["SOLUSDT"] }));
    expect(folded("pi-1", history, 0).mode).toBe("SHADOW");
  });

  test("expired decisions keep their effect, and a freeze folded again ends when it ended the first time", () => {
    const freeze = entry("FREEZE", "fleet", { duration_s: 60 }, { at: T0 });
    expect(freeze.message.expiresAt).toBeLessThan(T0 + 60_000); // long expired by now
    expect(folded("fleet", [freeze]).freeze).toEqual({ until: T0 + 60_000 });
  });

  test("decisions that change no policy are passed over", () => {
    const history = [
      entry("RESEARCH_TASK", "fleet", { task_type: "echo", description: "ping" }),
      entry("RISK_ADJUSTMENT", "fleet", { max_leverage: 2 }),
      entry("OVERRIDE", "fleet", { reason: "r", overridden_decision_id: "dec_whatever" }),
    ];
    expect(folded("fleet", history)).toEqual(policyOf({ max_leverage: 2 }));
  });

  test("a decision that no longer validates stops the fold, named, rather than be dropped quietly", () => {
    const stale = entry("RISK_ADJUSTMENT", "fleet", { max_leverage: 2, renamed_since: 1 });
    const result = foldPolicy("fleet", [entry("RISK_ADJUSTMENT", "fleet", { max_leverage: 3 }), stale]);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.problem).toStartWith(`decision ${stale.message.id} (RISK_ADJUSTMENT, seq ${stale.seq}) no longer folds: renamed_since: not a field of RISK_ADJUSTMENT`);
    // Overridden, it is not folded at all.
    expect(foldPolicy("fleet", [{ ...stale, overriddenBy: "dec_o" }])).toEqual({ ok: true, value: { ...DEFAULT_POLICY } });
  });

  test("many targets at once fold exactly as each alone, by the plain definition (200 random trails)", () => {
    const random = seededRandom(11);
    const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)]!;
    const updates: [DecisionType, Record<string, unknown>][] = [
      ["RISK_ADJUSTMENT", { max_leverage: 2 }],
      ["RISK_ADJUSTMENT", { max_leverage: 7 }],
      ["SYMBOL_UNIVERSE", { active_symbols: ["BTCUSDT"] }],
      ["SYMBOL_UNIVERSE", { active_symbols: null }],
      ["ESS_POLICY", { enforcement: "audit" }],
      ["MODE_CHANGE", { mode: "PAUSED" }],
      ["FREEZE", { duration_s: 5 }],
      ["RESEARCH_TASK", { task_type: "echo", description: "d" }],
    ];
    /** The definition, one target at a time: every decision that reaches it, in order, from the default. */
    const plain = (target: string, history: DecisionHistoryEntry[], since: number) =>
      policyOf(
        ...history
          .filter((e) => e.overriddenBy === null && e.message.type !== "RESEARCH_TASK")
          .filter((e) => e.message.target === "fleet" || (e.message.target === target && e.message.issuedAt >= since))
          .map((e) => {
            const effect = decisionEffect(e.message.type, e.message.payload, e.message.issuedAt);
            if (effect.kind !== "policy") throw new Error("a policy decision");
            return effect.update;
          }),
      );
    for (let trail = 0; trail < 200; trail++) {
      const history = Array.from({ length: 1 + Math.floor(random() * 30) }, (_, i) => {
        const [type, payload] = pick(updates);
        return entry(type, pick(["fleet", "fleet", "pi-1", "pi-2", "pi-3"]), payload, { at: T0 + i, overriddenBy: random() < 0.2 ? "dec_o" : undefined });
      });
      const targets = [{ target: "fleet", since: 0 }, { target: "pi-1", since: 0 }, { target: "pi-2", since: T0 + 10 }, { target: "pi-3", since: T0 + 40 }];
      const folded = foldPolicies(targets, history);
      if (!folded.ok) throw new Error(folded.problem);
      for (const { target, since } of targets) expect(folded.value.get(target)).toEqual(plain(target, history, since));
    }
  });
});
