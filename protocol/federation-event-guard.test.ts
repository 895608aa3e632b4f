// The fast federation event check must accept exactly what the zod schema accepts.
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { ESS_STATES, MODES, SYSTEM_STATUSES } from "../kernel/types.ts";
import { badLines, extraValidEvents } from "../test/fixtures/federation-lines.ts";
import { fleetStream } from "../test/fixtures/federation-stream.ts";
import { isFederationEvent } from "./federation-event-guard.ts";
import { CLOSE_EXITS, FederationEvent, NODE_HEALTH_STATES } from "./federation-events.ts";

const agrees = (value: unknown) => isFederationEvent(value) === FederationEvent.safeParse(value).success;

// Values at and around each bound the schemas have.
const count = fc.oneof(fc.nat(), fc.constantFrom(0, -0, Number.MAX_SAFE_INTEGER));
const number = fc.oneof(fc.double({ min: -1e9, max: 1e9, noNaN: true }), fc.constantFrom(0, -0, -1, 1e300));
const atLeastZero = fc.oneof(fc.double({ min: 0, max: 1e9, noNaN: true }), fc.constantFrom(0, -0));
const fraction = fc.oneof(fc.double({ min: 0, max: 1, noNaN: true }), fc.constantFrom(0, 1));
const nullable = fc.oneof(number, fc.constant(null));
const node = fc.oneof(fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,62}$/), fc.constantFrom("a", "sim-0001", "x".repeat(63)));
const text = (min: number, max: number) => fc.string({ minLength: min, maxLength: max, unit: "binary" });

const report = {
  portfolio: fc.record({
    total_equity: atLeastZero,
    drawdown_pct: atLeastZero,
    max_drawdown_pct: atLeastZero,
    realized_pnl_today: number,
    unrealized_pnl: number,
    num_positions: count,
    total_exposure_usd: atLeastZero,
    win_rate_today: fraction,
    sharpe_ratio_7d: number,
    ts: count,
  }),
  health: fc.record({ system_status: fc.constantFrom(...SYSTEM_STATUSES), ess_state: fc.constantFrom(...ESS_STATES), ts: count }),
  model: fc.record({
    model_name: fc.oneof(fc.stringMatching(/^[A-Za-z0-9_.-]{1,64}$/), fc.constantFrom("NHiTS", "m".repeat(64))),
    sharpe_ratio: number,
    win_rate: fraction,
    profit_factor: atLeastZero,
    total_trades: count,
    days_since_training: atLeastZero,
    ts: count,
  }),
};
const verdictEvent = fc.record({
  seq: fc.oneof(fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), fc.constant(1)),
  ts: count,
  simulated: fc.boolean(),
  symbol: text(0, 32),
  verdict: fc.record({
    id: text(1, 128),
    verdict: fc.constantFrom("PASS", "HOLD"),
    reasons: fc.array(text(0, 64), { maxLength: 32 }),
    enforced: fc.boolean(),
    mode: fc.constantFrom(...MODES),
    metrics: fc.record({ notional: nullable, friction_usd: nullable, required_edge_usd: nullable, r_ratio: nullable }),
  }),
});
const close = fc.record(
  { symbol: text(1, 32), ts: count, pnl_usd: number, exit: fc.constantFrom(...CLOSE_EXITS) },
  { requiredKeys: ["symbol", "ts"] },
);

const validEvent = fc.oneof(
  fc.record({ type: fc.constant("portfolio"), node, at: count, report: report.portfolio }),
  fc.record({ type: fc.constant("health"), node, at: count, report: report.health }),
  fc.record({ type: fc.constant("model"), node, at: count, report: report.model }),
  fc.record({ type: fc.constant("node_health"), node, at: count, state: fc.constantFrom(...NODE_HEALTH_STATES) }),
  fc.record({ type: fc.constant("verdict"), node, at: count, event: verdictEvent }),
  fc.record({ type: fc.constant("close"), node, at: count, close }),
  fc.record({ type: fc.constant("tick"), at: count }),
);

// Values that break one field: wrong types, out of range, fractions where integers belong, unsafe integers, too long, nested junk.
const junk = fc.oneof(
  fc.constantFrom(-1, -0.0001, 1.5, 2, 2 ** 53, 1e400, "", "x".repeat(33), "x".repeat(65), "x".repeat(129), "LIVE", "PASS", "tick", "sim-0001", "Bad Node", null, true, [], {}, [1], ["a".repeat(65)]),
  fc.constantFrom(...Array.from({ length: 33 }, () => "r")).map((r) => Array.from({ length: 33 }, () => r)),
  fc.jsonValue(),
);

/** Every object and array in a value (the value itself included), to pick one to break. */
function containers(value: unknown, out: Array<Record<string, unknown> | unknown[]> = []): Array<Record<string, unknown> | unknown[]> {
  if (typeof value === "object" && value !== null) {
    out.push(value as Record<string, unknown>);
    for (const child of Object.values(value)) containers(child, out);
  }
  return out;
}

// One thing broken, removed or added somewhere in a valid event.
const mutated = fc.tuple(validEvent, fc.nat(), fc.nat(), fc.nat({ max: 2 }), junk, fc.string()).map(([event, which, keyIndex, how, value, extra]) => {
  const copy = structuredClone(event) as Record<string, unknown>;
  const all = containers(copy);
  const target = all[which % all.length]! as Record<string, unknown>;
  const keys = Object.keys(target);
  const key = keys.length ? keys[keyIndex % keys.length]! : "0";
  if (how === 0) target[key] = value;
  else if (how === 1) delete target[key];
  else target[Array.isArray(target) ? String(target.length) : extra || "extra"] = value;
  return JSON.parse(JSON.stringify(copy)) as unknown; // what a line can be
});

describe("isFederationEvent agrees with the zod schema", () => {
  test("on valid events of every type", () => {
    fc.assert(fc.property(validEvent, (event) => {
      const value = JSON.parse(JSON.stringify(event));
      return isFederationEvent(value) && FederationEvent.safeParse(value).success;
    }), { numRuns: 5000 });
  });

  test("on events with one thing broken, added or removed", () => {
    fc.assert(fc.property(mutated, agrees), { numRuns: 30_000 });
  });

  test("on arbitrary JSON, and arbitrary objects with a known type", () => {
    fc.assert(fc.property(fc.jsonValue(), agrees), { numRuns: 5000 });
    const typed = fc.tuple(fc.constantFrom("portfolio", "health", "model", "node_health", "verdict", "close", "tick"), fc.dictionary(fc.constantFrom("node", "at", "report", "state", "event", "close", "x"), junk));
    fc.assert(fc.property(typed, ([type, rest]) => agrees(JSON.parse(JSON.stringify({ type, ...rest })))), { numRuns: 5000 });
  });

  test("on the fixtures' lines and a simulated fleet's stream", () => {
    const lines = badLines(1_764_000_000_000).filter((line) => {
      try {
        JSON.parse(line);
        return true;
      } catch {
        return false;
      }
    });
    for (const line of lines) expect({ line, agrees: agrees(JSON.parse(line)) }).toEqual({ line, agrees: true });
    for (const event of extraValidEvents(1_764_000_000_000, 1)) expect(isFederationEvent(event)).toBe(true);
    for (const event of fleetStream({ nodes: 20, durationS: 3600, seed: 3 })) expect(isFederationEvent(JSON.parse(JSON.stringify(event)))).toBe(true);
  });
});
