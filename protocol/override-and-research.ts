// The payloads of the two decision types that change no policy by themselves
// (decision-policy.ts records and acknowledges them): OVERRIDE, which the
// hub carries out by folding the desired policies again without the decision
// it names (hub/decisions/refold.ts), and RESEARCH_TASK, which a node with
// the `research` capability runs through its own handler table
// (agent/research-tasks.ts) and answers in its ack. `reason` is checked for
// every type in decision-policy.ts, so it is only required here, not checked.
import { z } from "zod";
import type { DecisionType } from "./messages.ts";
import { DECISION_ID_PATTERN } from "./messages.ts";

/** A task type names a handler on the node: a short identifier, never a command. */
export const TASK_TYPE_PATTERN = /^[a-z][a-z0-9_]{0,63}$/;
export const MAX_TASK_DESCRIPTION = 2000;
export const MAX_EXPECTED_IMPACT = 512;
/** Parameters for the handler (e.g. journal_stats' window), as JSON: small, they pick what to look at. */
export const MAX_TASK_PARAMS_BYTES = 1024;

export const OverridePayload = z.strictObject({
  // Required here; that it is text of at most 512 characters is decision-policy.ts's check, for every type.
  reason: z.unknown().refine((reason) => reason !== undefined && !(typeof reason === "string" && reason.trim() === ""), "required: why the decision is overridden"),
  overridden_decision_id: z.string({ error: "required: the id of the decision to override" }).regex(DECISION_ID_PATTERN, "not a decision id"),
});

export const ResearchTaskPayload = z.strictObject({
  task_type: z.string({ error: "required: the handler to run (a short identifier)" }).regex(TASK_TYPE_PATTERN, "a lowercase identifier of at most 64 characters (letters, digits, _)"),
  description: z
    .string({ error: "required: what the task is for (text)" })
    .trim()
    .min(1, "required: what the task is for (text)")
    .max(MAX_TASK_DESCRIPTION, `at most ${MAX_TASK_DESCRIPTION} characters`),
  expected_impact: z.string().max(MAX_EXPECTED_IMPACT, `at most ${MAX_EXPECTED_IMPACT} characters`).optional(),
  params: z
    .record(z.string(), z.unknown())
    .refine((params) => Buffer.byteLength(JSON.stringify(params)) <= MAX_TASK_PARAMS_BYTES, `at most ${MAX_TASK_PARAMS_BYTES} bytes of JSON`)
    .optional(),
  reason: z.unknown().optional(),
});

export type OverridePayload = z.infer<typeof OverridePayload>;
export type ResearchTaskPayload = z.infer<typeof ResearchTaskPayload>;

const SCHEMAS: Partial<Record<DecisionType, z.ZodObject>> = { OVERRIDE: OverridePayload, RESEARCH_TASK: ResearchTaskPayload };

/** What is wrong with an OVERRIDE or RESEARCH_TASK payload, each problem naming its field; [] for other types. */
export function recordPayloadProblems(type: DecisionType, payload: Record<string, unknown>): string[] {
  const schema = SCHEMAS[type];
  if (!schema) return [];
  const parsed = schema.safeParse(payload);
  if (parsed.success) return [];
  const fields = Object.keys(schema.shape).join(", ");
  return parsed.error.issues.flatMap((issue) =>
    issue.code === "unrecognized_keys"
      ? issue.keys.map((key) => `${key}: not a field of ${type} (${fields})`)
      : [`${issue.path.map(String).join(".")}: ${issue.message}`],
  );
}
