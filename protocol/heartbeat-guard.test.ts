// The fast heartbeat check must accept exactly what the zod schema accepts.
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { ESS_STATES, MODES } from "../kernel/types.ts";
import { decodeHeartbeat, isHeartbeat } from "./heartbeat-guard.ts";
import { HeartbeatMessage } from "./messages.ts";

const count = fc.oneof(fc.nat(), fc.constantFrom(0, Number.MAX_SAFE_INTEGER));
const nonNegative = fc.oneof(fc.double({ min: 0, max: 1e9, noNaN: true }), fc.constant(0));
const validHeartbeat = fc.record({
  seq: count,
  ts: count,
  uptime_s: nonNegative,
  load: fc.tuple(nonNegative, nonNegative, nonNegative),
  rss_bytes: count,
  mode: fc.constantFrom(...MODES),
  connectivity: fc.constantFrom("online", "simulation"),
  simulated: fc.boolean(),
  outbox_depth: count,
  kernel: fc.record({ evaluated: count, passed: count, held: count, duplicates: count, recovered: count }),
  ess_state: fc.option(fc.constantFrom(...ESS_STATES), { nil: undefined }),
}).map(({ ess_state, ...hb }) => (ess_state === undefined ? hb : { ...hb, ess_state }));
// Values that break one field: wrong types, negatives, fractions where integers belong, unsafe integers, nested junk.
const junk = fc.oneof(
  fc.constantFrom(-1, 1.5, 2 ** 53, -0.0001, "", "LIVE", null, true, [], {}, [1, 2], [0, 0, -1], [0, 0, 0, 0], "online"),
  fc.jsonValue(),
);
const KEYS = ["seq", "ts", "uptime_s", "load", "rss_bytes", "mode", "connectivity", "simulated", "outbox_depth", "kernel", "ess_state"] as const;

const KERNEL_KEYS = ["evaluated", "passed", "held", "duplicates", "recovered", "extra"] as const;

const mutated = fc.tuple(validHeartbeat, fc.nat({ max: 5 }), fc.constantFrom(...KEYS), fc.constantFrom(...KERNEL_KEYS), junk, fc.string()).map(([hb, how, key, kernelKey, value, extra]) => {
  const copy: Record<string, unknown> = structuredClone(hb);
  if (how === 0) copy[key] = value;
  else if (how === 1) delete copy[key];
  else if (how === 2) copy[extra || "extra"] = value;
  else if (how === 3) (copy.kernel as Record<string, unknown>)[kernelKey] = value;
  else if (how === 4) delete (copy.kernel as Record<string, unknown>)[kernelKey];
  else copy.load = value;
  return JSON.parse(JSON.stringify(copy)) as unknown; // what a wire payload can be
});

describe("isHeartbeat agrees with the zod schema", () => {
  test("on valid heartbeats", () => {
    fc.assert(fc.property(validHeartbeat, (hb) => isHeartbeat(hb) && HeartbeatMessage.safeParse(hb).success), { numRuns: 2000 });
  });

  test("on heartbeats with one thing broken, added or removed", () => {
    fc.assert(fc.property(mutated, (value) => isHeartbeat(value) === HeartbeatMessage.safeParse(value).success), { numRuns: 20_000 });
  });

  test("on arbitrary JSON", () => {
    fc.assert(fc.property(fc.jsonValue(), (value) => isHeartbeat(value) === HeartbeatMessage.safeParse(value).success), { numRuns: 5000 });
  });
});

describe("decodeHeartbeat", () => {
  const valid = { seq: 1, ts: 5, uptime_s: 1, load: [0, 0, 0], rss_bytes: 1, mode: "LIVE", connectivity: "online", simulated: false, outbox_depth: 0, kernel: { evaluated: 0, passed: 0, held: 0, duplicates: 0, recovered: 0 } };

  test("returns the heartbeat", () => {
    expect(decodeHeartbeat(Buffer.from(JSON.stringify(valid))) as unknown).toEqual({ ok: true, value: valid });
  });

  test("names the offending field the way decodePayload does", () => {
    expect(decodeHeartbeat(Buffer.from(JSON.stringify({ ...valid, seq: -1 })))).toEqual({ ok: false, error: expect.stringMatching(/^seq:/) });
    expect(decodeHeartbeat(Buffer.from("nope"))).toEqual({ ok: false, error: "payload is not JSON" });
    expect(decodeHeartbeat(Buffer.alloc(70_000, 0x20))).toEqual({ ok: false, error: expect.stringContaining("exceeds") });
  });
});
