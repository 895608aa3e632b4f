// RESEARCH_TASK on the node. The hub names a task type; the node runs the
// handler of that name from the table below, which is code shipped in the
// agent: nothing the hub sends is ever run as a command. Only a node that
// advertises the `research` capability runs tasks; any other, and a task
// type without a handler here, acknowledges the decision as refused with
// the reason.
//
// Handlers are quick and synchronous: a task runs while its decision is
// applied, and its result goes back in that decision's ack, queued in the
// same transaction that records the decision (exactly once, like every
// decision). A long job would hold up the agent's one thread (intents,
// MQTT); one that needs to run long belongs in its own part with its own
// result message, not in this table.
import type { GateConfig } from "../kernel/config.ts";
import { configHash } from "../kernel/config.ts";
import type { IntentProcessor } from "../kernel/intent-processor.ts";
import { effectiveConfig, type KernelPolicy } from "../kernel/policy.ts";
import { ackResultProblem } from "../protocol/messages.ts";
import { ResearchTaskPayload } from "../protocol/override-and-research.ts";

export const RESEARCH_CAPABILITY = "research";

/** What handlers may read on the node. */
export interface ResearchNode {
  /** The intent journal's counts (IntentProcessor.verdictCounts). */
  journal: Pick<IntentProcessor, "verdictCounts">;
  /** core_gates.env as loaded. */
  gateConfig: GateConfig;
  /** The policy in force and the desired-policy version it came from. */
  policy(): { policy: KernelPolicy; version: number };
}

export type ResearchOutcome = { ok: true; result: Record<string, unknown> } | { ok: false; error: string };

export type ResearchHandler = (task: ResearchTaskPayload, node: ResearchNode, now: number) => Record<string, unknown>;

/** A task's parameters were wrong: refused with this message. */
class BadParams extends Error {}

const MINUTE = 60_000;
const DEFAULT_WINDOW_MINUTES = 24 * 60;
const MAX_WINDOW_MINUTES = 7 * 24 * 60;
/**
 * journal_stats counts at most the newest this many verdicts of its window
 * (and says `truncated`): about 20 ms on an x64 core, so the agent's thread
 * is not held long on a Pi either.
 */
export const JOURNAL_STATS_MAX_VERDICTS = 20_000;

/** The handler table: task_type -> handler. Adding a task type is adding a line here (and its test). */
export const RESEARCH_HANDLERS: Readonly<Record<string, ResearchHandler>> = {
  /** Says the task back: checks the path hub -> node -> ack -> audit trail. */
  echo: (task) => ({ task_type: task.task_type, description: task.description, params: task.params ?? {} }),

  /** Verdicts of the last `params.window_minutes` (default a day, at most a week; the newest JOURNAL_STATS_MAX_VERDICTS), by verdict and reason. */
  journal_stats: (task, node, now) => {
    const minutes = task.params?.window_minutes ?? DEFAULT_WINDOW_MINUTES;
    if (typeof minutes !== "number" || !Number.isInteger(minutes) || minutes < 1 || minutes > MAX_WINDOW_MINUTES) {
      throw new BadParams(`params.window_minutes: a whole number of minutes from 1 to ${MAX_WINDOW_MINUTES}`);
    }
    const since = now - minutes * MINUTE;
    return { window_minutes: minutes, since: new Date(since).toISOString(), ...node.journal.verdictCounts(since, JOURNAL_STATS_MAX_VERDICTS) };
  },

  /** Which gate config the node judges with: core_gates.env's hash and, with the hub's threshold overrides, the effective one. */
  config_hash: (_task, node) => {
    const { policy, version } = node.policy();
    return {
      kernel_config_hash: configHash(node.gateConfig),
      effective_config_hash: configHash(effectiveConfig(node.gateConfig, policy)),
      policy_version: version,
    };
  },
};

/**
 * Runs a RESEARCH_TASK payload on this node through `handlers` (the table
 * above), or says why not. Never throws: every failure is an outcome the ack
 * carries.
 */
export function runResearchTask(
  payload: Record<string, unknown>,
  capabilities: readonly string[],
  node: ResearchNode,
  now: number,
  handlers: Readonly<Record<string, ResearchHandler>> = RESEARCH_HANDLERS,
): ResearchOutcome {
  if (!capabilities.includes(RESEARCH_CAPABILITY)) {
    return { ok: false, error: `this node does not run research tasks (no "${RESEARCH_CAPABILITY}" capability)` };
  }
  const parsed = ResearchTaskPayload.safeParse(payload);
  if (!parsed.success) return { ok: false, error: "invalid research task payload" }; // decisionEffect refused it before; kept for safety
  const task = parsed.data;
  const handler = Object.hasOwn(handlers, task.task_type) ? handlers[task.task_type]! : undefined;
  if (!handler) {
    return { ok: false, error: `no handler for task_type ${task.task_type} on this node (handlers: ${Object.keys(handlers).join(", ")})` };
  }
  let result: Record<string, unknown>;
  try {
    result = handler(task, node, now);
  } catch (error) {
    const message = error instanceof BadParams ? error.message : `failed: ${(error as Error).message}`;
    return { ok: false, error: `${task.task_type}: ${message}`.slice(0, 1000) };
  }
  const tooBig = ackResultProblem(result);
  return tooBig ? { ok: false, error: `${task.task_type}: ${tooBig}` } : { ok: true, result };
}
