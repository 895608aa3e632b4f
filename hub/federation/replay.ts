// A replay: the roles run over a recorded stream of FederationEvents (JSONL)
// and say what each would have issued, advisory or not, with the policies
// their decisions would have put in force (policy-book.ts), the conflicts,
// the alerts and a summary. A bad line gives an error record and the
// replay goes on. Used by `npm run federation -- replay` and the benchmark.
import type { KernelPolicy } from "../../kernel/policy.ts";
import { jsonDepthProblem } from "../../lib/json-depth.ts";
import { isFederationEvent } from "../../protocol/federation-event-guard.ts";
import { FederationEvent } from "../../protocol/federation-events.ts";
import type { FederationConfig } from "./config.ts";
import { FederationEngine } from "./engine.ts";
import { PolicyBook } from "./policy-book.ts";
import type { AlertEvent, ConflictRecord, DecisionRecord } from "./records.ts";

export type ReplayRecord =
  | ({ kind: "decision" } & DecisionRecord)
  | ({ kind: "conflict" } & ConflictRecord)
  | ({ kind: "alert"; alert: AlertEvent["kind"] } & Omit<AlertEvent, "kind">)
  | { kind: "error"; line: number; error: string; detail: string };

export interface ReplaySummary {
  kind: "summary";
  lines: number;
  events: number;
  errors: number;
  from: number | null;
  to: number | null;
  decisions: Record<string, Record<string, number>>;
  decisions_total: number;
  conflicts: number;
  /** Proposals not made, by why. */
  refused: Record<string, number>;
  /** Role evaluations skipped while the role was at its hourly cap. */
  capped_evaluations: number;
  alerts: Record<string, number>;
  /** Seconds frozen: the fleet, and each node frozen by a decision of its own. */
  frozen_s: Record<string, number>;
}

/** The event on a line, when it is one that FederationEvent accepts; otherwise null. */
function validEvent(text: string): FederationEvent | null {
  try {
    const value: unknown = JSON.parse(text);
    return isFederationEvent(value) ? value : null;
  } catch {
    return null;
  }
}

export class Replay {
  readonly book: PolicyBook;
  readonly engine: FederationEngine;
  private lines = 0;
  private errors = 0;
  private from: number | null = null;
  private to: number | null = null;
  private decisionsTotal = 0;
  private readonly alerts: Record<string, number> = {};

  /** `fleetPolicy`: the fleet's policy in force when the stream starts (default: DEFAULT_POLICY). */
  constructor(config: FederationConfig, fleetPolicy?: KernelPolicy) {
    this.book = new PolicyBook(fleetPolicy);
    this.engine = new FederationEngine(config, { policyOf: this.book.policyOf, alertAdvisory: true });
  }

  /** One line of input: the records it gives (none for most). */
  line(text: string): ReplayRecord[] {
    const lineNo = ++this.lines;
    // The fast way for a valid event (a valid event is 4 levels deep at most, so the depth scan has nothing to find);
    // anything else takes the checks below, which name what is wrong.
    const valid = validEvent(text);
    if (valid) return this.event(valid);
    if (text.trim() === "") return [];
    const tooDeep = jsonDepthProblem(text);
    if (tooDeep) return this.error(lineNo, "json_too_deep", tooDeep);
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      return this.error(lineNo, "invalid_json", (error as Error).message);
    }
    const parsed = FederationEvent.safeParse(value);
    if (!parsed.success) return this.error(lineNo, "invalid_event", parsed.error.issues.map((i) => `${i.path.map(String).join(".") || "(line)"}: ${i.message}`).join("; "));
    return this.event(parsed.data);
  }

  /** One event already parsed. */
  event(event: FederationEvent): ReplayRecord[] {
    if (this.from === null || event.at < this.from) this.from = event.at;
    if (this.to === null || event.at > this.to) this.to = event.at;
    const step = this.engine.handle(event);
    if (step.decisions.length === 0 && step.conflicts.length === 0 && step.alerts.length === 0) return [];
    const out: ReplayRecord[] = [];
    for (const decision of step.decisions) {
      this.book.apply(decision);
      this.decisionsTotal++;
      out.push({ kind: "decision", ...decision });
    }
    for (const conflict of step.conflicts) out.push({ kind: "conflict", ...conflict });
    for (const alert of step.alerts) {
      this.alerts[alert.severity] = (this.alerts[alert.severity] ?? 0) + 1;
      const { kind: alertKind, ...rest } = alert;
      out.push({ kind: "alert", alert: alertKind, ...rest });
    }
    return out;
  }

  summary(): ReplaySummary {
    const c = this.engine.counters;
    return {
      kind: "summary",
      lines: this.lines,
      events: c.events,
      errors: this.errors,
      from: this.from,
      to: this.to,
      decisions: c.decisions,
      decisions_total: this.decisionsTotal,
      conflicts: c.conflicts,
      refused: { ...c.refused },
      capped_evaluations: c.capped_evaluations,
      alerts: this.alerts,
      frozen_s: this.book.frozenSeconds(this.to ?? 0),
    };
  }

  private error(line: number, error: string, detail: string): ReplayRecord[] {
    this.errors++;
    return [{ kind: "error", line, error, detail }];
  }
}
