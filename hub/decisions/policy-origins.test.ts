// Tests for policyWithOrigins (policy-origins.ts): which decision last set
// each field of a desired policy, fleet or the node's own, operator or role.
import { describe, expect, test } from "bun:test";
import { entry, T0 } from "../../test/fixtures/decision-history.ts";
import type { DecisionOrigin } from "./decision-origin.ts";
import { foldPolicy } from "./policy-fold.ts";
import { DEFAULT_POLICY, type KernelPolicy } from "../../kernel/policy.ts";
import { seededRandom } from "../../lib/seeded-random.ts";
import type { DecisionType } from "../../protocol/messages.ts";
import { policyOrigins, type FieldOrigin } from "./policy-origins.ts";

const riskOfficer: DecisionOrigin = { kind: "role", role: "risk_officer", rule: "drawdown", inputs: { drawdown_pct: 0.2 }, thresholds: { max: 0.1 } };

function originsOf(target: string, history: ReturnType<typeof entry>[], since = 0): Map<string, FieldOrigin> {
  const result = policyOrigins({ target, since }, history);
  if (!result.ok) throw new Error(result.problem);
  return result.value;
}

function folded(target: string, history: ReturnType<typeof entry>[], since = 0): KernelPolicy {
  const result = foldPolicy(target, history, since);
  if (!result.ok) throw new Error(result.problem);
  return result.value;
}

describe("policyOrigins", () => {
  test("each field names the decision that last set it, fleet or the node's own, operator or role", () => {
    const fleetLeverage = entry("RISK_ADJUSTMENT", "fleet", { max_leverage: 3, max_notional_usd: 500 });
    const ownLeverage = entry("RISK_ADJUSTMENT", "pi-1", { max_leverage: 2 }, { origin: riskOfficer });
    const otherNode = entry("SYMBOL_UNIVERSE", "pi-2", { active_symbols: ["ETHUSDT"] });
    const fleetShadow = entry("MODE_CHANGE", "fleet", { mode: "SHADOW" });
    const history = [fleetLeverage, ownLeverage, otherNode, fleetShadow];
    const origins = originsOf("pi-1", history);
    expect(origins.get("max_leverage")).toEqual({ decisionId: ownLeverage.message.id, type: "RISK_ADJUSTMENT", issuedAt: ownLeverage.message.issuedAt, origin: riskOfficer, from: "node" });
    expect(origins.get("max_notional_usd")).toMatchObject({ decisionId: fleetLeverage.message.id, origin: { kind: "operator" }, from: "fleet" });
    expect(origins.get("mode")).toMatchObject({ decisionId: fleetShadow.message.id, type: "MODE_CHANGE", from: "fleet" });
    expect(origins.has("active_symbols")).toBe(false); // another node's decision
    expect(origins.has("enforcement")).toBe(false); // never set: at its default

    const fleet = originsOf("fleet", history);
    expect(fleet.get("max_leverage")).toMatchObject({ decisionId: fleetLeverage.message.id, from: "fleet" });
  });

  test("a decision that sets a field to the value it had still set it; a FREEZE sets the freeze, not the mode", () => {
    const shadow = entry("MODE_CHANGE", "fleet", { mode: "SHADOW" });
    const shadowAgain = entry("MODE_CHANGE", "fleet", { mode: "SHADOW" });
    const freeze = entry("FREEZE", "fleet", { reason: "storm" });
    const origins = originsOf("fleet", [shadow, shadowAgain, freeze]);
    expect(origins.get("mode")!.decisionId).toBe(shadowAgain.message.id);
    expect(origins.get("freeze")!.decisionId).toBe(freeze.message.id);
  });

  test("a decision an OVERRIDE reversed sets nothing, and a node's decisions from before it registered count for nothing", () => {
    const fleetLeverage = entry("RISK_ADJUSTMENT", "fleet", { max_leverage: 3 });
    const reversed = entry("RISK_ADJUSTMENT", "fleet", { max_leverage: 5 }, { overriddenBy: "dec_o" });
    const beforeRegistration = entry("SYMBOL_UNIVERSE", "pi-1", { active_symbols: ["BTCUSDT"] }, { at: T0 - 10 });
    const history = [beforeRegistration, fleetLeverage, reversed];
    const origins = originsOf("pi-1", history, T0);
    expect(folded("pi-1", history, T0).max_leverage).toBe(3);
    expect(origins.get("max_leverage")!.decisionId).toBe(fleetLeverage.message.id);
    expect(origins.has("active_symbols")).toBe(false);
  });

  test("over random trails, every field the fold moved off its default has an origin, the decision that last named it", () => {
    const random = seededRandom(13);
    const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)]!;
    const updates: [DecisionType, Record<string, unknown>][] = [
      ["MODE_CHANGE", { mode: "SHADOW" }],
      ["MODE_CHANGE", { mode: "PAUSED", duration_minutes: 5 }],
      ["FREEZE", { reason: "x" }],
      ["RISK_ADJUSTMENT", { max_leverage: 2, max_drawdown_pct: 10 }],
      ["SYMBOL_UNIVERSE", { active_symbols: ["BTCUSDT"] }],
      ["CAPITAL_PROFILE", { profile: "SMALL" }],
      ["ESS_POLICY", { caution_threshold_pct: 2, warning_threshold_pct: 4, critical_threshold_pct: 6 }],
    ];
    for (let round = 0; round < 50; round++) {
      const history = Array.from({ length: 12 }, (_, i) => {
        const [type, payload] = pick(updates);
        return entry(type, pick(["fleet", "fleet", "pi-1", "pi-2"]), payload, { at: T0 + round * 100 + i, overriddenBy: random() < 0.2 ? "dec_o" : undefined });
      });
      const policy = folded("pi-1", history);
      const origins = originsOf("pi-1", history);
      for (const field of Object.keys(policy) as (keyof KernelPolicy)[]) {
        if (JSON.stringify(policy[field]) !== JSON.stringify(DEFAULT_POLICY[field])) expect(origins.has(field)).toBe(true);
      }
      for (const origin of origins.values()) {
        const source = history.find((e) => e.message.id === origin.decisionId)!;
        expect(source.overriddenBy).toBeNull();
        expect(["fleet", "pi-1"]).toContain(source.message.target);
      }
    }
  });
});
