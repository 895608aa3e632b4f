// The hub's hot path: thousands of heartbeats a second. The zod schema in
// messages.ts stays the one definition; this hand-written check accepts
// exactly what it accepts (heartbeat-guard.test.ts compares the two on
// generated input), without copying the parsed object, about ten times
// faster. Anything it refuses goes through zod for the error message.
import { ESS_STATES, MODES } from "../kernel/types.ts";
import { decodePayload, HeartbeatMessage, MAX_PAYLOAD_BYTES, type DecodeResult } from "./messages.ts";

const HEARTBEAT_KEYS = 10;
const KERNEL_KEYS = 5;
const MODE_SET: ReadonlySet<unknown> = new Set(MODES);
const ESS_SET: ReadonlySet<unknown> = new Set(ESS_STATES);

const isCount = (v: unknown): boolean => Number.isSafeInteger(v) && (v as number) >= 0;
const isNonNegative = (v: unknown): boolean => typeof v === "number" && Number.isFinite(v) && v >= 0;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isKernelCounters(v: unknown): boolean {
  return (
    isPlainObject(v) &&
    Object.keys(v).length === KERNEL_KEYS &&
    isCount(v.evaluated) &&
    isCount(v.passed) &&
    isCount(v.held) &&
    isCount(v.duplicates) &&
    isCount(v.recovered)
  );
}

export function isHeartbeat(v: unknown): v is HeartbeatMessage {
  if (!isPlainObject(v)) return false;
  // ess_state is optional (older agents do not send it).
  const hasEss = Object.hasOwn(v, "ess_state");
  if (Object.keys(v).length !== HEARTBEAT_KEYS + (hasEss ? 1 : 0) || (hasEss && !ESS_SET.has(v.ess_state))) return false;
  const load = v.load;
  return (
    isCount(v.seq) &&
    isCount(v.ts) &&
    isNonNegative(v.uptime_s) &&
    Array.isArray(load) &&
    load.length === 3 &&
    isNonNegative(load[0]) &&
    isNonNegative(load[1]) &&
    isNonNegative(load[2]) &&
    isCount(v.rss_bytes) &&
    MODE_SET.has(v.mode) &&
    (v.connectivity === "online" || v.connectivity === "simulation") &&
    typeof v.simulated === "boolean" &&
    isCount(v.outbox_depth) &&
    isKernelCounters(v.kernel)
  );
}

/** decodePayload(HeartbeatMessage, payload), fast for valid heartbeats. */
export function decodeHeartbeat(payload: Buffer): DecodeResult<HeartbeatMessage> {
  if (payload.byteLength <= MAX_PAYLOAD_BYTES) {
    let json: unknown;
    try {
      json = JSON.parse(payload.toString("utf8"));
    } catch {
      json = undefined;
    }
    if (isHeartbeat(json)) return { ok: true, value: json };
  }
  return decodePayload(HeartbeatMessage, payload); // the slow path names what is wrong
}
