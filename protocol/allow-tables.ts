// A node's allow tables (ALLOWED_MODELS_* of its core_gates.env): the models
// its gates let through in each regime. The agent says them in its birth, so
// the hub can refuse a STRATEGY_ALLOCATION naming a model that none of its
// target nodes allows, before folding it into a desired policy those nodes
// adopt (decision-policy.ts, hub/decisions/allocation-models.ts).
import { z } from "zod";
import { ALLOWED_MODELS_KEY, MODEL_NAME, type GateConfig } from "../kernel/config.ts";
import { REGIMES } from "../kernel/types.ts";

/** At most this many models in one table of a birth: four full tables stay well inside a payload. */
export const MAX_MODELS_PER_TABLE = 100;

/** Each regime's table, every regime present. */
export const AllowTables = z.record(z.enum(REGIMES), z.array(z.string().regex(MODEL_NAME, "a model name")).max(MAX_MODELS_PER_TABLE));
export type AllowTables = z.infer<typeof AllowTables>;

/**
 * A gate config's allow tables, or null when one is too long to say in a
 * birth (the hub then checks no model names against this node, as for an
 * agent from before the tables were said).
 */
export function allowTablesOf(config: GateConfig): AllowTables | null {
  const tables = Object.fromEntries(REGIMES.map((regime) => [regime, [...(config[ALLOWED_MODELS_KEY[regime]] as string[])]])) as AllowTables;
  return REGIMES.every((regime) => tables[regime].length <= MAX_MODELS_PER_TABLE) ? tables : null;
}

/**
 * Every model the tables allow once a policy's threshold overrides replace
 * some of them, as on the node (kernel/policy.ts effectiveConfig).
 */
export function modelsAllowedUnder(tables: AllowTables, thresholds: Partial<GateConfig>): Set<string> {
  return new Set(REGIMES.flatMap((regime) => (thresholds[ALLOWED_MODELS_KEY[regime]] as string[] | undefined) ?? tables[regime]));
}
