// Receipts: the hub telling a node which of its events it has committed, so
// the node's outbox forgets an event only then (not at the broker's PUBACK).
//
// Why: the broker's PUBACK only says the broker took the message. With hub
// replicas on shared subscriptions, Mosquitto 2.0.11 does not restore a
// shared subscription after a restart (hub/replicas/mosquitto-shared-sessions.test.ts),
// so what nodes publish before the replicas subscribe again is acknowledged
// and reaches no hub. An application-level receipt closes that gap for every
// broker and every failure between the node and the registry: a node sends
// each event with its outbox id (`ob`), keeps it until a receipt names that
// id, and sends it again if none comes. The hub's ingest already takes a
// repeated event once (a verdict or close by seq, an ack by decision, a
// report by series and time, work by attempt), so sending again is safe.
//
// Rolling upgrades: a hub before receipts refuses a payload carrying `ob`
// (every schema is strict). So a node adds `ob` only while the retained
// `hub/features` says `receipts: true`, which only a hub that takes `ob`
// publishes; without it the node forgets at the PUBACK, as before.
import { z } from "zod";

/** The field a node adds to an event payload: the event's id in the node's outbox. */
export const OUTBOX_REF_FIELD = "ob";

/** An outbox id: outbox ids are SQLite AUTOINCREMENT keys, positive and never reused. */
export const outboxRef = z.int().min(1).max(Number.MAX_SAFE_INTEGER);

/** What withOutboxRef adds to a payload at most: `"ob":<the largest id>,`. */
export const OUTBOX_REF_MAX_BYTES = `"${OUTBOX_REF_FIELD}":${Number.MAX_SAFE_INTEGER},`.length;

/** Ranges per receipt message: 1,000 ranges are about 30 KB, under the 64 KiB payload limit. */
export const MAX_RECEIPT_RANGES = 1000;

/**
 * `edgefed/v1/nodes/{node}/receipts`: the outbox ids of events the hub has
 * committed, as inclusive ranges `[first, last]` in increasing order.
 */
export const ReceiptMessage = z.strictObject({
  ob: z
    .array(z.tuple([outboxRef, outboxRef]).refine(([first, last]) => first <= last, "a range is [first, last] with first <= last"))
    .min(1)
    .max(MAX_RECEIPT_RANGES),
  ts: z.int().min(0),
});
export type ReceiptMessage = z.infer<typeof ReceiptMessage>;

/**
 * `edgefed/v1/hub/features` (retained): what the hub takes beyond protocol
 * v1's first version. Not strict, unlike every other schema: a node reads the
 * features it knows and ignores those a newer hub adds.
 */
export const HubFeaturesMessage = z.looseObject({
  /** The hub takes `ob` on events and answers with receipts. */
  receipts: z.boolean().optional(),
  ts: z.int().min(0),
});
export type HubFeaturesMessage = z.infer<typeof HubFeaturesMessage>;

/**
 * `payload` (a JSON object, as the outbox stores it) with `"ob": id` added.
 * A string edit rather than parse and stringify: the outbox publishes
 * hundreds a second on a Pi, and the payload is the outbox's own JSON.
 */
export function withOutboxRef(payload: string, id: number): string {
  if (!Number.isSafeInteger(id) || id < 1) throw new Error(`outbox ref must be a positive integer, not ${String(id)}`);
  if (!payload.startsWith("{")) throw new Error("outbox ref: the payload is not a JSON object");
  const rest = payload.slice(1).trimStart();
  return `{"${OUTBOX_REF_FIELD}":${id}${rest.startsWith("}") ? "" : ","}${rest}`;
}

/**
 * Takes `ob` out of a decoded JSON payload, before its kind's schema sees it.
 * Returns the id, null if there is none, or an error.
 */
export function takeOutboxRef(json: unknown): { ob: number | null } | { error: string } {
  if (typeof json !== "object" || json === null || Array.isArray(json) || !Object.hasOwn(json, OUTBOX_REF_FIELD)) return { ob: null };
  const record = json as Record<string, unknown>;
  const parsed = outboxRef.safeParse(record[OUTBOX_REF_FIELD]);
  if (!parsed.success) return { error: `${OUTBOX_REF_FIELD}: an outbox id is a positive integer` };
  delete record[OUTBOX_REF_FIELD];
  return { ob: parsed.data };
}

/** Ids as the fewest inclusive ranges, in increasing order (duplicates merged). */
export function idRanges(ids: Iterable<number>): [number, number][] {
  const sorted = [...new Set(ids)].sort((a, b) => a - b);
  const ranges: [number, number][] = [];
  for (const id of sorted) {
    const last = ranges[ranges.length - 1];
    if (last && id === last[1] + 1) last[1] = id;
    else ranges.push([id, id]);
  }
  return ranges;
}

/** The receipts covering `ids`: one message per MAX_RECEIPT_RANGES ranges. */
export function receiptsFor(ids: Iterable<number>, ts: number): ReceiptMessage[] {
  const ranges = idRanges(ids);
  const messages: ReceiptMessage[] = [];
  for (let i = 0; i < ranges.length; i += MAX_RECEIPT_RANGES) messages.push({ ob: ranges.slice(i, i + MAX_RECEIPT_RANGES), ts });
  return messages;
}
