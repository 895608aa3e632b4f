// Who made a decision, kept with it in the audit trail and shown in every
// decision view: an operator (the HTTP API: the hub's admin token, or a named
// operator's), or a federation role, with the
// rule that fired, the inputs it saw and the thresholds they crossed, so an
// operator can tell why the fleet froze at 3 a.m.
export type DecisionOrigin =
  | {
      kind: "operator";
      /** The operator's name ("admin": the hub's admin token); absent on decisions from before operators had names. */
      name?: string;
    }
  | {
      kind: "role";
      /** The role's name, e.g. "supervisor". */
      role: string;
      /** The rule that fired, e.g. "fleet_drawdown". */
      rule: string;
      /** What the rule saw, e.g. {fleet_drawdown_pct: 0.12}. */
      inputs: Record<string, unknown>;
      /** What it compared them with, e.g. {max_fleet_drawdown_pct: 0.1}. */
      thresholds: Record<string, unknown>;
    };

/** Decisions made through the HTTP API by no one named (older decisions, tests). */
export const OPERATOR: DecisionOrigin = Object.freeze({ kind: "operator" });

/** A decision an operator made through the HTTP API. */
export function operatorOrigin(name: string): DecisionOrigin {
  return { kind: "operator", name };
}

/** Who made it, as the audit trail names actors: the operator's name, "admin", or "role:<name>". */
export function originActor(origin: DecisionOrigin): string {
  return origin.kind === "role" ? `role:${origin.role}` : (origin.name ?? "admin");
}
