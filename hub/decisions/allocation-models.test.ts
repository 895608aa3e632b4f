// What the hub checks a STRATEGY_ALLOCATION's model names against: the models
// any target allows under the policy it follows, once every target has said.
import { describe, expect, test } from "bun:test";
import { DEFAULT_POLICY, type KernelPolicy } from "../../kernel/policy.ts";
import { emptyLive, type NodeRecord } from "../nodes/node-model.ts";
import { registeredNode } from "../../test/fixtures/node-record.ts";
import type { AllowTables } from "../../protocol/allow-tables.ts";
import { modelsTargetsAllow } from "./allocation-models.ts";

const T0 = 1_700_000_000_000;
const TREND_ONLY: AllowTables = { TREND: ["NHiTS"], RANGE: [], HIGH_VOL: [], LOW_VOL: [] };
const RANGE_ONLY: AllowTables = { TREND: [], RANGE: ["LightGBM"], HIGH_VOL: [], LOW_VOL: [] };

function node(nodeId: string, allowTables: AllowTables | null): NodeRecord {
  return registeredNode(nodeId, T0, { live: { ...emptyLive(), allowTables } });
}

function check(target: string, nodes: NodeRecord[], policies: Record<string, Partial<KernelPolicy>> = {}) {
  const logs: string[] = [];
  const result = modelsTargetsAllow(target, nodes, (id) => ({ ...DEFAULT_POLICY, ...policies[id] }), (line) => logs.push(line));
  return { allowed: result && [...result.allowed].sort(), of: result?.of, logs };
}

describe("modelsTargetsAllow", () => {
  test("a node: its tables; the fleet: any node's", () => {
    expect(check("pi-1", [node("pi-1", TREND_ONLY)])).toEqual({ allowed: ["NHiTS"], of: "node pi-1", logs: [] });
    expect(check("fleet", [node("pi-1", TREND_ONLY), node("pi-2", RANGE_ONLY)])).toEqual({ allowed: ["LightGBM", "NHiTS"], of: "any node of the fleet", logs: [] });
  });

  test("with the thresholds of the policy each node follows", () => {
    const policies = { "pi-1": { thresholds: { ALLOWED_MODELS_TREND: ["Chronos"] } } };
    expect(check("fleet", [node("pi-1", TREND_ONLY), node("pi-2", RANGE_ONLY)], policies).allowed).toEqual(["Chronos", "LightGBM"]);
  });

  test("nothing checked while a target has not said (it might allow any name), logged; nor with no node at all", () => {
    const silent = check("fleet", [node("pi-1", TREND_ONLY), node("pi-old", null)]);
    expect(silent).toEqual({
      allowed: undefined,
      of: undefined,
      logs: ["STRATEGY_ALLOCATION to fleet: model names not checked, pi-old has not said which models it allows (an older agent, or no birth since it registered)"],
    });
    const many = Array.from({ length: 7 }, (_, i) => node(`pi-${i}`, null));
    expect(check("fleet", many).logs).toEqual([expect.stringContaining("pi-0, pi-1, pi-2, pi-3, pi-4 and 2 more have not said")]);
    expect(check("fleet", [])).toEqual({ allowed: undefined, of: undefined, logs: [] });
  });
});
