// The work package messages (issue 15): the hub offers a package to one
// node with a lease (`work/offer`, which is the lease: attempt n is that
// node's until the lease runs out), the node reports progress (renewing
// the lease) and its result (`work/progress`, `work/result`, through its
// outbox). Every message names the package and the attempt: the hub takes
// only the current attempt's (fencing).
import { z } from "zod";

const timestamp = z.int().min(0);
const packageId = z.string().regex(/^wp_[A-Za-z0-9_-]{1,40}$/, "a work package id (wp_...)");
const attempt = z.int().min(1);

/** A result is one bounded object: with its envelope it stays well under the 64 KiB message limit. */
export const MAX_WORK_RESULT_BYTES = 32 * 1024;

const workResult = z
  .record(z.string(), z.unknown())
  .refine((result) => JSON.stringify(result).length <= MAX_WORK_RESULT_BYTES, `at most ${MAX_WORK_RESULT_BYTES} bytes of JSON`);

export const WorkOfferMessage = z.strictObject({
  id: packageId,
  attempt,
  kind: z.string().regex(/^[a-z][a-z0-9._-]{0,63}$/),
  payload: z.record(z.string(), z.unknown()),
  /** The lease's length: progress within it renews it. */
  lease_s: z.int().min(1),
  /** ms; past it the hub expires the package (null: none). */
  deadline_at: timestamp.nullable(),
  ts: timestamp,
});

export const WorkProgressMessage = z.strictObject({
  id: packageId,
  attempt,
  progress: z.number().min(0).max(100),
  ts: timestamp,
});

export const WorkResultMessage = z
  .strictObject({
    id: packageId,
    attempt,
    ok: z.boolean(),
    result: workResult.optional(),
    error: z.string().max(1024).optional(),
    ts: timestamp,
  })
  .refine((m) => (m.ok ? m.result !== undefined && m.error === undefined : m.error !== undefined && m.result === undefined), {
    message: "ok with a result, or not ok with an error",
  });

export type WorkOfferMessage = z.infer<typeof WorkOfferMessage>;
export type WorkProgressMessage = z.infer<typeof WorkProgressMessage>;
export type WorkResultMessage = z.infer<typeof WorkResultMessage>;
