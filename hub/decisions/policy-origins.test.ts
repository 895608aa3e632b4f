// Tests for policyWithOrigins (policy-origins.ts): which decision last set
// each field of a desired policy, fleet or the node's own, operator or role.
import { describe, expect, test } from "bun:test";
import { entry, T0 } from "../../test/fixtures/decision-history.ts";
import type { DecisionOrigin } from "./decision-origin.ts";
import { foldPolicy } from "./policy-fold.ts";
import { policyWithOrigins, type PolicyWithOrigins } from "./policy-origins.ts";

const riskOfficer: DecisionOrigin = { kind: "role", role: "risk_officer", rule: "drawdown", inputs: { drawdown_pct: 0.2 }, thresholds: { max: 0.1 } };

function withOrigins(target: string, history: ReturnType<typeof entry>[], since = 0): PolicyWithOrigins {
  const result = policyWithOrigins({ target, since }, history);
  if (!result.ok) throw new Error(result.problem);
  return result.value;
}

describe("policyWithOrigins", () => {
  test("each field names the decision that last set it, fleet or the node's own, operator or role", () => {
    const fleetLeverage = entry("RISK_ADJUSTMENT", "fleet", { max_leverage: 3, max_notional_usd: 500 });
    const ownLeverage = entry("RISK_ADJUSTMENT", "pi-1", { max_leverage: 2 }, { origin: riskOfficer });
    const otherNode = entry("SYMBOL_UNIVERSE", "pi-2", { active_symbols: ["ETHUSDT"] });
    const fleetShadow = entry("MODE_CHANGE", "fleet", { mode: "SHADOW" });
    const history = [fleetLeverage, ownLeverage, otherNode, fleetShadow];
    const { policy, origins } = withOrigins("pi-1", history);

    const fold = foldPolicy("pi-1", history);
    expect(fold.ok && fold.value).toEqual(policy); // the same policy the hub folds and signs
    expect(origins.get("max_leverage")).toEqual({ decisionId: ownLeverage.message.id, type: "RISK_ADJUSTMENT", issuedAt: ownLeverage.message.issuedAt, origin: riskOfficer, from: "node" });
    expect(origins.get("max_notional_usd")).toMatchObject({ decisionId: fleetLeverage.message.id, origin: { kind: "operator" }, from: "fleet" });
    expect(origins.get("mode")).toMatchObject({ decisionId: fleetShadow.message.id, type: "MODE_CHANGE", from: "fleet" });
    expect(origins.has("active_symbols")).toBe(false); // another node's decision
    expect(origins.has("enforcement")).toBe(false); // never set: at its default

    const fleet = withOrigins("fleet", history);
    expect(fleet.origins.get("max_leverage")).toMatchObject({ decisionId: fleetLeverage.message.id, from: "fleet" });
  });

  test("a decision that sets a field to the value it had still set it; a FREEZE sets the freeze, not the mode", () => {
    const shadow = entry("MODE_CHANGE", "fleet", { mode: "SHADOW" });
    const shadowAgain = entry("MODE_CHANGE", "fleet", { mode: "SHADOW" });
    const freeze = entry("FREEZE", "fleet", { reason: "storm" });
    const { origins } = withOrigins("fleet", [shadow, shadowAgain, freeze]);
    expect(origins.get("mode")!.decisionId).toBe(shadowAgain.message.id);
    expect(origins.get("freeze")!.decisionId).toBe(freeze.message.id);
  });

  test("a decision an OVERRIDE reversed sets nothing, and a node's decisions from before it registered count for nothing", () => {
    const fleetLeverage = entry("RISK_ADJUSTMENT", "fleet", { max_leverage: 3 });
    const reversed = entry("RISK_ADJUSTMENT", "fleet", { max_leverage: 5 }, { overriddenBy: "dec_o" });
    const beforeRegistration = entry("SYMBOL_UNIVERSE", "pi-1", { active_symbols: ["BTCUSDT"] }, { at: T0 - 10 });
    const { policy, origins } = withOrigins("pi-1", [beforeRegistration, fleetLeverage, reversed], T0);
    expect(policy.max_leverage).toBe(3);
    expect(origins.get("max_leverage")!.decisionId).toBe(fleetLeverage.message.id);
    expect(origins.has("active_symbols")).toBe(false);
  });
});
