// What POST /api/federation/work takes: the package, where it may run and
// how it is scheduled, checked whole before anything is stored.
import { z } from "zod";
import { NODE_ID_PATTERN } from "../../protocol/node-id.ts";
import { WORK_STRATEGIES } from "./work-model.ts";

/** A kind or a capability: a lowercase word with dots (`gate.replay`). */
export const WORK_KIND_PATTERN = /^[a-z][a-z0-9._-]{0,63}$/;

/** A payload rides in one MQTT offer, whose whole message must stay under 64 KiB. */
export const MAX_WORK_PAYLOAD_BYTES = 32 * 1024;

export const WORK_DEFAULTS = { leaseS: 60, maxAttempts: 3 } as const;

export const WorkSubmit = z.strictObject({
  kind: z.string().regex(WORK_KIND_PATTERN, "a lowercase word, dots allowed (gate.replay)"),
  payload: z
    .record(z.string(), z.unknown())
    .default({})
    .refine((payload) => JSON.stringify(payload).length <= MAX_WORK_PAYLOAD_BYTES, `at most ${MAX_WORK_PAYLOAD_BYTES} bytes of JSON`),
  /** Capabilities a node must advertise, every one. */
  requires: z.array(z.string().regex(WORK_KIND_PATTERN, "a capability")).max(16).default([]),
  /** "any": one node picked by the strategy; "fleet": one package per matching node; else that node. */
  target: z.union([z.literal("any"), z.literal("fleet"), z.string().regex(NODE_ID_PATTERN, "any, fleet or a node id")]).default("any"),
  strategy: z.enum(WORK_STRATEGIES).default("least_loaded"),
  /** From submit; past it the package expires wherever it is. */
  deadline_s: z.int().min(1).max(30 * 86_400).optional(),
  /** How long a node holds it without a word (progress renews it). */
  lease_s: z.int().min(1).max(3600).default(WORK_DEFAULTS.leaseS),
  max_attempts: z.int().min(1).max(20).default(WORK_DEFAULTS.maxAttempts),
  idempotency_key: z.string().min(1).max(128).optional(),
});
export type WorkSubmit = z.infer<typeof WorkSubmit>;
