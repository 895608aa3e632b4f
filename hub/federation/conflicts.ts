// Conflicts between roles: opposite changes (tighten against loosen) to the
// same policy field of the same target within the window. A fleet decision
// reaches every node, so "fleet" overlaps every node. The role of higher
// priority wins; each conflict is recorded once with both sides.
import type { PolicyUpdate } from "../../kernel/policy.ts";
import type { ConflictRecord, ConflictSide, DecisionRecord } from "./records.ts";
import { priorityOf, type Proposal } from "./role.ts";

/** The policy field a key of an update belongs to: everything about the mode is one field. */
const FIELD_OF: Record<string, string> = {
  mode: "mode",
  freeze_until: "mode",
  freeze_severity: "mode",
  freeze_reason: "mode",
  mode_window: "mode",
  windows_end_at: "mode",
};

export function fieldsOf(update: PolicyUpdate): string[] {
  return [...new Set(Object.keys(update).map((key) => FIELD_OF[key] ?? key))].sort();
}

interface Made {
  decision: DecisionRecord;
  fields: string[];
}

const side = (p: Proposal | DecisionRecord, at: number): ConflictSide => ({
  role: p.role,
  rule: p.rule,
  type: p.type,
  target: p.target,
  payload: p.payload,
  direction: p.direction,
  at: "at" in p ? p.at : at,
  ...("id" in p ? { id: p.id } : {}),
});

export class ConflictWindow {
  private made: Made[] = [];
  /** Conflicts already recorded (loser's role, rule and target against the winning decision), so a retry is not counted again. */
  private seen = new Set<string>();

  constructor(private windowMs: number) {}

  setWindow(windowMs: number): void {
    this.windowMs = windowMs;
  }

  /**
   * Whether `proposal` may be made given the decisions of the window: `lost`
   * when a higher-priority role made the opposite change, with the
   * conflicts to record (new ones only) either way.
   */
  judge(proposal: Proposal, fields: string[], at: number): { lost: boolean; conflicts: ConflictRecord[]; beaten: DecisionRecord[] } {
    this.expire(at);
    const conflicts: ConflictRecord[] = [];
    const beaten: DecisionRecord[] = [];
    let lost = false;
    if (proposal.direction === "neutral") return { lost, conflicts, beaten };
    for (const { decision, fields: theirs } of this.made) {
      if (decision.role === proposal.role || decision.direction === "neutral" || decision.direction === proposal.direction) continue;
      if (!(decision.target === proposal.target || decision.target === "fleet" || proposal.target === "fleet")) continue;
      const shared = fields.filter((f) => theirs.includes(f));
      if (shared.length === 0) continue;
      const theyWin = priorityOf(decision.role) < priorityOf(proposal.role);
      if (theyWin) lost = true;
      else beaten.push(decision);
      const key = theyWin ? `${proposal.role}/${proposal.rule}|${proposal.target}|${decision.id}` : `${decision.role}/${decision.rule}|${decision.target}|${proposal.role}/${proposal.rule}@${at}`;
      if (this.seen.has(key)) continue;
      this.seen.add(key);
      conflicts.push(theyWin ? { at, fields: shared, winner: side(decision, at), loser: side(proposal, at) } : { at, fields: shared, winner: side(proposal, at), loser: side(decision, at) });
    }
    return { lost, conflicts, beaten };
  }

  /** A conflict recorded before (a restarted hub): one against a decision still in the window is not recorded again. */
  remember(conflict: ConflictRecord): void {
    const { loser, winner } = conflict;
    if (winner.id !== undefined) this.seen.add(`${loser.role}/${loser.rule}|${loser.target}|${winner.id}`);
  }

  record(decision: DecisionRecord, fields: string[]): void {
    this.made.push({ decision, fields });
  }

  private expire(at: number): void {
    const cutoff = at - this.windowMs;
    if (this.made.length && this.made[0]!.decision.at < cutoff) {
      const gone = this.made.filter((m) => m.decision.at < cutoff);
      this.made = this.made.filter((m) => m.decision.at >= cutoff);
      for (const m of gone) for (const key of this.seen) if (key.includes(`|${m.decision.id}`)) this.seen.delete(key);
      if (this.made.length === 0) this.seen.clear();
    }
  }
}
