// The work package kinds this agent runs (issue 15), in one table: a kind
// the hub offers that is not here is refused with the list of those that
// are. No kind runs a command from the hub: each is code here, reading the
// node through WorkNode, and returns one bounded result object.
//   diagnostics   status, recent log lines, SQLite integrity checks, disk space, clock offset
//   gate.replay   the node's journaled intents in a time range judged again under a
//                 candidate gate config and policy, in memory (the live journal is only read)
//   research      a RESEARCH_TASK payload run by the research handlers (research-tasks.ts)
// A kind is `resumable` when running it again from the start is harmless and
// gives the same answer (it only reads): an agent that restarts mid-job runs
// such a job again under the same attempt while its lease holds, instead of
// reporting it failed (work-runner.ts).
import { statfsSync } from "node:fs";
import { overrideConfig, type GateConfig } from "../kernel/config.ts";
import { IntentProcessor } from "../kernel/intent-processor.ts";
import { applyPolicyUpdate, DEFAULT_POLICY, type KernelPolicy } from "../kernel/policy.ts";
import type { SqliteDatabase } from "../lib/sqlite.ts";
import { runResearchTask, type ResearchNode } from "./research-tasks.ts";

/** What a kind may read on the node. */
export interface WorkNode extends ResearchNode {
  nodeId: string;
  capabilities: readonly string[];
  dataDir: string;
  journal: ResearchNode["journal"] & Pick<IntentProcessor, "journaledIntents" | "integrityCheck">;
  /** What GET /v1/status says (mode, connectivity, outbox, counters). */
  status(): Record<string, unknown>;
  /** The agent's latest log lines, oldest first. */
  recentLog(): readonly string[];
  /** The agent's own store (agent.sqlite), for its integrity check beside the journal's. */
  store: SqliteDatabase;
}

/** When the offer was made (the hub's clock) and now (the node's): the clock offset's estimate. */
export interface WorkContext {
  offeredAt: number;
  now: number;
}

export type WorkHandler = (payload: Record<string, unknown>, node: WorkNode, context: WorkContext) => Record<string, unknown> | Promise<Record<string, unknown>>;

export interface WorkKind {
  run: WorkHandler;
  /** Run again from the start, under the same attempt, after a restart interrupted it (while its lease holds). */
  resumable: boolean;
}

/** A payload the kind cannot run: failed with this message. */
export class BadWorkPayload extends Error {}

/** gate.replay judges at most this many intents (and says `truncated`): a few seconds on a Pi. */
export const REPLAY_MAX_INTENTS = 20_000;
export const DIAGNOSTICS_LOG_LINES = 50;

const diagnostics: WorkHandler = (_payload, node, { offeredAt, now }) => {
  const disk = statfsSync(node.dataDir);
  return {
    node_id: node.nodeId,
    status: node.status(),
    log: node.recentLog().slice(-DIAGNOSTICS_LOG_LINES).map((line) => line.slice(0, 300)),
    integrity: {
      agent_store: node.store.prepare("PRAGMA integrity_check").all<{ integrity_check: string }>().map((row) => row.integrity_check).join("; "),
      journal: node.journal.integrityCheck(),
    },
    disk: { free_bytes: disk.bavail * disk.bsize, total_bytes: disk.blocks * disk.bsize },
    // The node's clock minus the hub's at the offer, plus the offer's delivery time: an upper bound of the offset.
    clock_offset_ms_at_most: now - offeredAt,
  };
};

const gateReplay: WorkHandler = (payload, node) => {
  const { from, to } = payload;
  if (typeof from !== "number" || typeof to !== "number" || !(from < to)) throw new BadWorkPayload("payload.from and payload.to: ms since the epoch, from before to");
  const config = candidateConfig(node.gateConfig, payload.config);
  const policy = candidatePolicy(payload.policy);
  const { intents, truncated } = node.journal.journaledIntents(from, to, REPLAY_MAX_INTENTS);
  const replay = IntentProcessor.open(":memory:", { config, policy });
  try {
    const verdicts = replay.process(intents.map((i) => i.intent));
    const byVerdict: Record<string, number> = {};
    const byReason: Record<string, number> = {};
    const changes: Record<string, number> = {};
    let changed = 0;
    verdicts.forEach((verdict, i) => {
      byVerdict[verdict.verdict] = (byVerdict[verdict.verdict] ?? 0) + 1;
      for (const reason of verdict.reasons) byReason[reason] = (byReason[reason] ?? 0) + 1;
      const was = intents[i]!.verdict.verdict;
      if (was !== verdict.verdict) {
        changed++;
        changes[`${was}->${verdict.verdict}`] = (changes[`${was}->${verdict.verdict}`] ?? 0) + 1;
      }
    });
    return { from, to, intents: intents.length, truncated, by_verdict: byVerdict, by_reason: byReason, changed, changes };
  } finally {
    replay.close();
  }
};

const research: WorkHandler = (payload, node, { now }) => {
  const outcome = runResearchTask(payload, node.capabilities, node, now);
  if (!outcome.ok) throw new BadWorkPayload(outcome.error);
  return outcome.result;
};

export const WORK_KIND_TABLE: Readonly<Record<string, WorkKind>> = {
  // Both only read, and give the same answer when run again.
  diagnostics: { run: diagnostics, resumable: true },
  "gate.replay": { run: gateReplay, resumable: true },
  // A research handler configured on the node is not known to be harmless to run twice.
  research: { run: research, resumable: false },
};

/** The node's gate config with `overrides` (gate variables, as in core_gates.env) on top. */
function candidateConfig(base: GateConfig, overrides: unknown): GateConfig {
  if (overrides === undefined) return base;
  if (typeof overrides !== "object" || overrides === null || Array.isArray(overrides)) throw new BadWorkPayload("payload.config: an object of gate variables");
  const result = overrideConfig(base, overrides as Record<string, unknown>);
  if (!result.config) throw new BadWorkPayload(`payload.config: ${result.problems.join("; ")}`);
  return result.config;
}

/** The default policy with `update` applied, as `npm run gate --policy` reads its file. */
function candidatePolicy(update: unknown): KernelPolicy {
  if (update === undefined) return DEFAULT_POLICY;
  const result = applyPolicyUpdate(DEFAULT_POLICY, update);
  if (!result.ok) throw new BadWorkPayload(`payload.policy: ${result.violations.join("; ")}`);
  return result.policy;
}

/** The kinds this agent runs, for the refusal of any other. */
export const WORK_KINDS: readonly string[] = Object.keys(WORK_KIND_TABLE);

/** The resumable kinds of `table`: said in the birth, so the hub keeps their leases while the node restarts. */
export function resumableKinds(table: Readonly<Record<string, WorkKind>>): string[] {
  return Object.entries(table)
    .filter(([, kind]) => kind.resumable)
    .map(([name]) => name);
}
