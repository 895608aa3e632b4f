// fleet_frozen (critical) when a decision to the fleet freezes it (FREEZE, or
// MODE_CHANGE to FREEZE), whoever issued it, an operator or a role; and
// fleet_unfrozen (medium) when a decision to the fleet ends a freeze (a
// MODE_CHANGE to another mode, an OVERRIDE of the freeze). Judged on the
// fleet's desired policy after the decision, so a decision that changes
// nothing of the freeze says nothing.
import type { Alerts } from "../alerts.ts";
import type { CommittedDecision, Decisions } from "../decisions/decisions.ts";

export function alertOnFleetFreezes(decisions: Decisions, alerts: Alerts): void {
  // The fleet's freeze before the decision: a timed one may have run out since.
  let freeze = decisions.policyInForce("fleet").freeze;
  const frozenAt = (at: number) => freeze !== null && (freeze.until === null || freeze.until > at);
  decisions.whenIssued((issued: CommittedDecision) => {
    const { decision, origin } = issued;
    if (decision.target !== "fleet") return;
    const frozen = frozenAt(decision.issuedAt);
    freeze = decisions.policyInForce("fleet").freeze;
    const nowFrozen = frozenAt(decision.issuedAt);
    const by = origin.kind === "role" ? `role ${origin.role} (${origin.rule})` : "an operator";
    const reaching = `${issued.targets.length} node(s), decision ${decision.id}`;
    const freezes = decision.type === "FREEZE" || (decision.type === "MODE_CHANGE" && decision.payload.mode === "FREEZE");
    if (freezes && nowFrozen) {
      alerts.raise({ severity: "critical", kind: "fleet_frozen", subject: "fleet", message: `the fleet is frozen by ${by}: ${decision.type} to ${reaching}`, at: decision.issuedAt });
    } else if (frozen && !nowFrozen) {
      alerts.raise({ severity: "medium", kind: "fleet_unfrozen", subject: "fleet", message: `the fleet is no longer frozen: ${decision.type} by ${by} to ${reaching}`, at: decision.issuedAt });
    }
  });
}
