// What the hub checks a STRATEGY_ALLOCATION's model names against. A node
// adopts the desired policy the hub folds a decision into, whatever it makes
// of the decision itself, so the hub refuses (400) a name no target allows
// rather than fold it; a node then takes every allocation the hub issues,
// and its policy stays the desired one. Each node says its allow tables in
// its birth; the policy it follows may replace some (thresholds).
import type { KernelPolicy } from "../../kernel/policy.ts";
import { modelsAllowedUnder } from "../../protocol/allow-tables.ts";
import type { TargetModels } from "../../protocol/decision-policy.ts";
import type { NodeRecord } from "../nodes/node-model.ts";

/** At most this many nodes named in the log line of an unchecked allocation. */
const NAMED_IN_LOG = 5;

/**
 * The models any of `nodes` (a decision's targets) allows under the policy
 * it follows. Undefined, and nothing checked, when one of them has not said
 * its tables (an agent from before they were said, or one not connected
 * since it registered: it might allow any name), which is logged, or when
 * there is no node to ask.
 */
export function modelsTargetsAllow(
  target: string,
  nodes: readonly NodeRecord[],
  policyOf: (nodeId: string) => KernelPolicy,
  log: (line: string) => void,
): TargetModels | undefined {
  if (nodes.length === 0) return undefined;
  const silent = nodes.filter((node) => node.live.allowTables === null).map((node) => node.nodeId);
  if (silent.length) {
    const named = silent.slice(0, NAMED_IN_LOG).join(", ") + (silent.length > NAMED_IN_LOG ? ` and ${silent.length - NAMED_IN_LOG} more` : "");
    log(`STRATEGY_ALLOCATION to ${target}: model names not checked, ${named} ${silent.length === 1 ? "has" : "have"} not said which models it allows (an older agent, or no birth since it registered)`);
    return undefined;
  }
  const allowed = new Set<string>();
  for (const node of nodes) for (const model of modelsAllowedUnder(node.live.allowTables!, policyOf(node.nodeId).thresholds)) allowed.add(model);
  return { allowed, of: target === "fleet" ? "any node of the fleet" : `node ${target}` };
}
