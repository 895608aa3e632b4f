// Tests for the dashboard's per-node metrics (node-metrics.ts): the open
// minute, its closing into a bucket, the hour of verdicts, and forgetting.
import { describe, expect, test } from "bun:test";
import { MINUTE_MS, NodeMetrics } from "./node-metrics.ts";

const T0 = 1_700_000_040_000 - (1_700_000_040_000 % MINUTE_MS);
const beat = (load: number, rss: number, outbox: number) => ({ load: [load, 0, 0] as [number, number, number], rss_bytes: rss, outbox_depth: outbox });

describe("NodeMetrics", () => {
  test("a minute keeps the last heartbeat's figures and counts verdicts by verdict and reason", () => {
    const metrics = new NodeMetrics();
    metrics.heartbeat("pi-1", beat(0.5, 100, 1), T0 + 1000);
    metrics.heartbeat("pi-1", beat(0.7, 200, 2), T0 + 2000);
    metrics.verdict("pi-1", "PASS", [], T0 + 3000);
    metrics.verdict("pi-1", "HOLD", ["COOLDOWN", "RATE"], T0 + 4000);
    metrics.verdict("pi-1", "HOLD", ["COOLDOWN"], T0 + 5000);
    expect(metrics.current("pi-1")).toEqual({ nodeId: "pi-1", at: T0, load: 0.7, rssBytes: 200, outboxDepth: 2, verdicts: { PASS: 1, HOLD: 2 }, byReason: { COOLDOWN: 2, RATE: 1 } });
    expect(metrics.current("pi-2")).toBeNull();
    expect(metrics.takeClosed()).toEqual([]);
  });

  test("the next minute's message closes the minute before; a roll-over closes those silent a whole minute since, once a minute", () => {
    const metrics = new NodeMetrics();
    metrics.heartbeat("pi-1", beat(1, 1, 1), T0);
    metrics.heartbeat("pi-2", beat(2, 2, 2), T0);
    metrics.heartbeat("pi-1", beat(3, 3, 3), T0 + MINUTE_MS);
    expect(metrics.unwritten("pi-1").map((b) => b.at)).toEqual([T0, T0 + MINUTE_MS]);
    expect(metrics.takeClosed().map((b) => [b.nodeId, b.at, b.load])).toEqual([["pi-1", T0, 1]]);
    metrics.rollOver(T0 + MINUTE_MS + 10);
    expect(metrics.takeClosed()).toEqual([]); // pi-2 may still be heard in the next seconds
    metrics.rollOver(T0 + 2 * MINUTE_MS + 10);
    expect(metrics.takeClosed().map((b) => [b.nodeId, b.at])).toEqual([["pi-2", T0]]);
    expect(metrics.current("pi-2")).toBeNull();
    expect(metrics.current("pi-1")?.at).toBe(T0 + MINUTE_MS); // its minute ended less than a minute ago
    metrics.rollOver(T0 + 2 * MINUTE_MS + 20); // the same minute: no walk
    expect(metrics.takeClosed()).toEqual([]);
    metrics.rollOver(T0 + 3 * MINUTE_MS);
    const closed = metrics.takeClosed();
    expect(closed.map((b) => [b.nodeId, b.at])).toEqual([["pi-1", T0 + MINUTE_MS]]);
    metrics.putBack(closed);
    expect(metrics.takeClosed()).toEqual(closed);
  });

  test("every ten minutes a roll-over says which buckets the registry may drop: those older than a day", () => {
    const metrics = new NodeMetrics();
    const cutoffs = Array.from({ length: 25 }, (_, m) => metrics.rollOver(T0 + m * MINUTE_MS)).map((cutoff, m) => cutoff !== null && m);
    expect(cutoffs.filter((m) => m !== false)).toEqual([0, 10, 20]);
    expect(metrics.rollOver(T0 + 30 * MINUTE_MS)).toBe(T0 + 30 * MINUTE_MS - 24 * 3_600_000);
  });

  test("the last hour sums the minutes within it and forgets older ones", () => {
    const metrics = new NodeMetrics();
    metrics.verdict("pi-1", "PASS", [], T0);
    metrics.verdict("pi-1", "HOLD", ["X"], T0 + 30 * MINUTE_MS);
    metrics.verdict("pi-1", "PASS", [], T0 + 59 * MINUTE_MS);
    expect(metrics.lastHour("pi-1", T0 + 59 * MINUTE_MS)).toEqual({ PASS: 2, HOLD: 1 });
    expect(metrics.lastHour("pi-1", T0 + 60 * MINUTE_MS)).toEqual({ PASS: 1, HOLD: 1 });
    // A slot reused an hour later starts from nothing.
    metrics.verdict("pi-1", "HOLD", [], T0 + 60 * MINUTE_MS);
    expect(metrics.lastHour("pi-1", T0 + 60 * MINUTE_MS)).toEqual({ PASS: 1, HOLD: 2 });
    expect(metrics.lastHour("pi-1", T0 + 200 * MINUTE_MS)).toEqual({ PASS: 0, HOLD: 0 });
    expect(metrics.lastHour("pi-unknown", T0)).toEqual({ PASS: 0, HOLD: 0 });
    metrics.forget("pi-1");
    expect(metrics.lastHour("pi-1", T0 + 60 * MINUTE_MS)).toEqual({ PASS: 0, HOLD: 0 });
    expect(metrics.current("pi-1")).toBeNull();
  });

  test("made-up reasons past the cap are counted as OTHER, and a reason named __proto__ is just a reason", () => {
    const metrics = new NodeMetrics();
    for (let i = 0; i < 150; i++) metrics.verdict("pi-1", "HOLD", [`R${i}`], T0);
    metrics.verdict("pi-1", "HOLD", ["__proto__"], T0);
    const byReason = metrics.current("pi-1")!.byReason;
    expect(Object.keys(byReason)).toHaveLength(101);
    expect(byReason.OTHER).toBe(51);
  });
});
