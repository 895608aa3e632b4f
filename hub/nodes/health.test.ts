// Tests for classifyHealth (health.ts): node health from what the hub has
// heard, at the boundaries docs/hub.md "Health" sets.
import { describe, expect, test } from "bun:test";
import { classifyHealth, type HealthRules } from "./health.ts";
import { emptyLive, type NodeLive } from "./node-model.ts";

const RULES: HealthRules = { heartbeatMs: 1000, offlineAfterMs: 10_000, degradedLoad: 4, listeningSince: 0 };
const NOW = 1_700_000_000_000;

/** A node whose last heartbeat was `silentMs` before NOW, otherwise unremarkable. */
function heardBefore(silentMs: number, overrides: Partial<NodeLive> = {}): NodeLive {
  return {
    ...emptyLive(),
    state: "online",
    stateAt: NOW - silentMs,
    lastHeartbeatAt: NOW - silentMs,
    load: [0.5, 0.4, 0.3],
    connectivity: "online",
    ...overrides,
  };
}

describe("classifyHealth", () => {
  test("a node never heard from is offline", () => {
    expect(classifyHealth(emptyLive(), NOW, RULES)).toEqual({ state: "offline", cause: "never heard from" });
  });

  test("a node whose last word was offline is offline, however recent its heartbeat", () => {
    const live = heardBefore(0, { state: "offline", stateAt: NOW });
    expect(classifyHealth(live, NOW, RULES)).toEqual({ state: "offline", cause: "node said offline (last will or clean stop)" });
  });

  test("a heartbeat just now is healthy", () => {
    expect(classifyHealth(heardBefore(0), NOW, RULES)).toEqual({ state: "healthy", cause: "heartbeat on time" });
  });

  test("silent for 1.5 intervals is still on time", () => {
    expect(classifyHealth(heardBefore(1500), NOW, RULES)).toEqual({ state: "healthy", cause: "heartbeat on time" });
  });

  test("one millisecond past 1.5 intervals is late", () => {
    expect(classifyHealth(heardBefore(1501), NOW, RULES)).toEqual({ state: "degraded", cause: "heartbeat late" });
  });

  test("just under 3 intervals is late, not yet unhealthy", () => {
    expect(classifyHealth(heardBefore(2999), NOW, RULES)).toEqual({ state: "degraded", cause: "heartbeat late" });
  });

  test("3 intervals of silence is 3 heartbeats missed", () => {
    expect(classifyHealth(heardBefore(3000), NOW, RULES)).toEqual({ state: "unhealthy", cause: "3 heartbeats missed" });
  });

  test("the missed count grows with the silence", () => {
    expect(classifyHealth(heardBefore(7999), NOW, RULES)).toEqual({ state: "unhealthy", cause: "7 heartbeats missed" });
  });

  test("silence of exactly offlineAfterMs is still unhealthy; beyond it offline", () => {
    expect(classifyHealth(heardBefore(10_000), NOW, RULES)).toEqual({ state: "unhealthy", cause: "10 heartbeats missed" });
    expect(classifyHealth(heardBefore(10_001), NOW, RULES)).toEqual({ state: "offline", cause: "silent for 10 s" });
    expect(classifyHealth(heardBefore(65_400), NOW, RULES)).toEqual({ state: "offline", cause: "silent for 65 s" });
  });

  test("a load above degradedLoad is degraded; at it, healthy", () => {
    expect(classifyHealth(heardBefore(0, { load: [4.5, 1, 1] }), NOW, RULES)).toEqual({ state: "degraded", cause: "load 4.5" });
    expect(classifyHealth(heardBefore(0, { load: [4, 9, 9] }), NOW, RULES)).toEqual({ state: "healthy", cause: "heartbeat on time" });
  });

  test("only the 1-minute load counts", () => {
    expect(classifyHealth(heardBefore(0, { load: [1, 8, 8] }), NOW, RULES).state).toBe("healthy");
  });

  test("a node in simulation mode is degraded", () => {
    expect(classifyHealth(heardBefore(0, { connectivity: "simulation" }), NOW, RULES)).toEqual({
      state: "degraded",
      cause: "node in simulation mode",
    });
  });

  test("missed heartbeats outrank load and simulation", () => {
    const live = heardBefore(3500, { load: [9, 9, 9], connectivity: "simulation" });
    expect(classifyHealth(live, NOW, RULES)).toEqual({ state: "unhealthy", cause: "3 heartbeats missed" });
  });

  test("a node that said online but never heartbeated is judged from when it said so", () => {
    const base = { ...emptyLive(), state: "online" as const };
    expect(classifyHealth({ ...base, stateAt: NOW - 500 }, NOW, RULES)).toEqual({ state: "healthy", cause: "heartbeat on time" });
    expect(classifyHealth({ ...base, stateAt: NOW - 2000 }, NOW, RULES)).toEqual({ state: "degraded", cause: "heartbeat late" });
    expect(classifyHealth({ ...base, stateAt: NOW - 4000 }, NOW, RULES)).toEqual({ state: "unhealthy", cause: "4 heartbeats missed" });
    expect(classifyHealth({ ...base, stateAt: NOW - 20_000 }, NOW, RULES)).toEqual({ state: "offline", cause: "silent for 20 s" });
  });

  // A node back from an hour-long outage that has just said online must not
  // stay "offline, silent for 3600 s" until its first heartbeat.
  test("a node that said online after a long outage is judged from when it said so, not from its old heartbeat", () => {
    const live = heardBefore(3_600_000, { state: "online", stateAt: NOW - 500 });
    expect(classifyHealth(live, NOW, RULES)).toEqual({ state: "healthy", cause: "heartbeat on time" });
  });

  test("a node with an unknown state and no heartbeat is never heard from, even with a stateAt", () => {
    expect(classifyHealth({ ...emptyLive(), stateAt: NOW }, NOW, RULES)).toEqual({ state: "offline", cause: "never heard from" });
  });

  test("the rules scale: heartbeatMs 15000", () => {
    const rules: HealthRules = { heartbeatMs: 15_000, offlineAfterMs: 150_000, degradedLoad: 2, listeningSince: 0 };
    expect(classifyHealth(heardBefore(22_500), NOW, rules).state).toBe("healthy");
    expect(classifyHealth(heardBefore(22_501), NOW, rules).state).toBe("degraded");
    expect(classifyHealth(heardBefore(45_000), NOW, rules)).toEqual({ state: "unhealthy", cause: "3 heartbeats missed" });
    expect(classifyHealth(heardBefore(0, { load: [2.01, 0, 0] }), NOW, rules)).toEqual({ state: "degraded", cause: "load 2.01" });
  });

  test("silence counts from when the hub started listening: a hub restart marks nobody missed", () => {
    const rules: HealthRules = { ...RULES, listeningSince: NOW - 500 };
    expect(classifyHealth(heardBefore(60_000), NOW, rules)).toEqual({ state: "healthy", cause: "heartbeat on time" });
    expect(classifyHealth(heardBefore(60_000), NOW + 2500, rules)).toEqual({ state: "unhealthy", cause: "3 heartbeats missed" });
    expect(classifyHealth(heardBefore(60_000, { state: "offline" }), NOW, rules).state).toBe("offline");
  });
});
