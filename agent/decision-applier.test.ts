// Decisions on the node: verified with the pinned hub key, applied once,
// acknowledged every time; forged, expired, misaddressed and malformed ones
// change nothing.
import { afterAll, beforeEach, describe, expect, test } from "bun:test";
import { DEFAULT_POLICY } from "../kernel/policy.ts";
import { generateKeyPair, signMessage } from "../protocol/signing.ts";
import { removeTempDirs, tempDir } from "../test/helpers.ts";
import { AgentStore } from "./agent-store.ts";
import { DecisionApplier } from "./decision-applier.ts";

const hub = generateKeyPair();
const forger = generateKeyPair();
const NOW = 1_800_000_000_000;
let store: AgentStore;
let applier: { apply(payload: string, now: number): ReturnType<DecisionApplier["apply"]>; adoptDesiredPolicy: DecisionApplier["adoptDesiredPolicy"] };

/** As the agent does: the outcome is recorded (in the transaction that queues the ack). */
function recording(inner: DecisionApplier): typeof applier {
  return {
    apply(payload, now) {
      const outcome = inner.apply(payload, now);
      outcome.record?.();
      return outcome;
    },
    adoptDesiredPolicy: (payload, source, now) => inner.adoptDesiredPolicy(payload, source, now),
  };
}

beforeEach(() => {
  store = AgentStore.open(tempDir());
  store.identity("pi-01", NOW);
  applier = recording(new DecisionApplier(store, "pi-01", () => hub.publicKey));
});
afterAll(() => removeTempDirs());

let counter = 0;
function decision(type: string, payload: Record<string, unknown>, overrides: Record<string, unknown> = {}, key = hub.privateKey): string {
  return JSON.stringify(
    signMessage({ id: `dec_test${++counter}`, type, target: "pi-01", payload, issuedAt: NOW - 1000, expiresAt: NOW + 3_600_000, seq: 100 + counter, ...overrides }, key),
  );
}

describe("DecisionApplier.apply", () => {
  test("a MODE_CHANGE applies, persists and is acknowledged", () => {
    const message = decision("MODE_CHANGE", { mode: "PAUSED" });
    const outcome = applier.apply(message, NOW);
    expect(outcome.ack).toEqual({ id: JSON.parse(message).id, ok: true, appliedAt: NOW });
    expect(outcome.policy).toMatchObject({ mode: "PAUSED" });
    expect(store.policy()).toMatchObject({ policy: { mode: "PAUSED" }, source: "decision" });
  });

  test("a redelivered decision is acknowledged again with the first outcome and applied once", () => {
    const message = decision("RISK_ADJUSTMENT", { max_leverage: 3 });
    const first = applier.apply(message, NOW);
    applier.apply(decision("RISK_ADJUSTMENT", { max_leverage: 5 }), NOW + 1);
    const again = applier.apply(message, NOW + 2);
    expect(again.ack).toEqual(first.ack);
    expect(again.policy).toBeNull();
    expect(again.record).toBeUndefined();
    expect(store.policy().policy.max_leverage).toBe(5); // not set back to 3
  });

  test("nothing is stored until the outcome is recorded (with its ack, in one transaction)", () => {
    const bare = new DecisionApplier(store, "pi-01", () => hub.publicKey);
    const message = decision("MODE_CHANGE", { mode: "EMERGENCY" });
    const outcome = bare.apply(message, NOW);
    expect(outcome.ack).toMatchObject({ ok: true });
    expect(store.appliedDecision(JSON.parse(message).id)).toBeUndefined();
    expect(store.policy().policy.mode).toBe("LIVE");
    outcome.record!();
    expect(store.policy().policy.mode).toBe("EMERGENCY");
  });

  test("a decision already folded into the policy in force (its seq at or below the version) is acknowledged, not applied again", () => {
    store.savePolicy({ policy: { ...DEFAULT_POLICY, mode: "LIVE" }, version: 500, source: "fleet" }, NOW);
    const old = decision("MODE_CHANGE", { mode: "PAUSED" }, { seq: 480, target: "fleet" });
    expect(applier.apply(old, NOW).ack).toMatchObject({ ok: true });
    expect(store.policy()).toMatchObject({ version: 500, policy: { mode: "LIVE" } });
    const newer = decision("MODE_CHANGE", { mode: "PAUSED" }, { seq: 501, target: "fleet" });
    applier.apply(newer, NOW);
    expect(store.policy().policy.mode).toBe("PAUSED");
  });

  test("a FREEZE with a duration freezes until issuedAt + duration", () => {
    applier.apply(decision("FREEZE", { duration_s: 60 }), NOW);
    expect(store.policy().policy.freeze).toEqual({ until: NOW - 1000 + 60_000 });
  });

  test("an OVERRIDE is recorded and acknowledged; the policy stays (the hub's refolded desired policy carries its effect)", () => {
    const message = decision("OVERRIDE", { reason: "wrong", overridden_decision_id: "dec_test0000001" });
    expect(applier.apply(message, NOW).ack).toEqual({ id: JSON.parse(message).id, ok: true, appliedAt: NOW });
    expect(store.appliedDecision(JSON.parse(message).id)).toMatchObject({ type: "OVERRIDE", ok: true });
    expect(store.policy().policy).toEqual({ ...DEFAULT_POLICY });
  });

  test("a RESEARCH_TASK runs once through the research runner; its result rides in the first ack only", () => {
    const runs: Record<string, unknown>[] = [];
    const researching = recording(
      new DecisionApplier(store, "pi-01", () => hub.publicKey, () => {}, { runResearch: (payload) => {
        runs.push(payload);
        return { ok: true, result: { echoed: payload.description } };
      } }),
    );
    const message = decision("RESEARCH_TASK", { task_type: "echo", description: "ping" });
    const first = researching.apply(message, NOW);
    expect(first.ack).toEqual({ id: JSON.parse(message).id, ok: true, result: { echoed: "ping" }, appliedAt: NOW });
    expect(first.policy).toBeNull();
    expect(store.appliedDecision(JSON.parse(message).id)).toMatchObject({ type: "RESEARCH_TASK", ok: true });
    const again = researching.apply(message, NOW + 5);
    expect(again.ack).toEqual({ id: JSON.parse(message).id, ok: true, appliedAt: NOW });
    expect(runs).toHaveLength(1);
    expect(store.policy().policy).toEqual({ ...DEFAULT_POLICY });
  });

  test("a RESEARCH_TASK the node cannot run is acknowledged as refused with the reason, and recorded so", () => {
    const message = decision("RESEARCH_TASK", { task_type: "echo", description: "ping" });
    const outcome = applier.apply(message, NOW); // built without a runner: a node without the research capability
    expect(outcome.ack).toEqual({ id: JSON.parse(message).id, ok: false, error: "this node does not run research tasks", appliedAt: NOW });
    expect(store.appliedDecision(JSON.parse(message).id)).toMatchObject({ ok: false, error: "this node does not run research tasks" });
  });

  test("forged, expired and misaddressed decisions are refused, not recorded, and change nothing", () => {
    const cases: [string, string][] = [
      [decision("MODE_CHANGE", { mode: "EMERGENCY" }, {}, forger.privateKey), "signature"],
      [decision("MODE_CHANGE", { mode: "EMERGENCY" }, { expiresAt: NOW - 1 }), "expired"],
      [decision("MODE_CHANGE", { mode: "EMERGENCY" }, { target: "pi-02" }), "addressed to pi-02"],
    ];
    for (const [message, reason] of cases) {
      const outcome = applier.apply(message, NOW);
      expect(outcome.ack).toMatchObject({ id: JSON.parse(message).id, ok: false, error: expect.stringContaining(reason) });
      expect(outcome.policy).toBeNull();
      expect(store.appliedDecision(JSON.parse(message).id)).toBeUndefined();
    }
    const tampered = JSON.parse(decision("MODE_CHANGE", { mode: "PAUSED" }));
    tampered.payload.mode = "EMERGENCY";
    expect(applier.apply(JSON.stringify(tampered), NOW).ack).toMatchObject({ ok: false, error: expect.stringContaining("signature") });
    expect(store.policy().policy).toEqual({ ...DEFAULT_POLICY });
  });

  test("a decision signed right but invalid is refused with the violations, recorded so a redelivery gets the same answer", () => {
    const message = decision("RISK_ADJUSTMENT", { max_leverage: -1 });
    const outcome = applier.apply(message, NOW);
    expect(outcome.ack).toMatchObject({ ok: false, error: expect.stringContaining("max_leverage") });
    expect(applier.apply(message, NOW + 5).ack).toEqual(outcome.ack);
    expect(store.policy().policy).toEqual({ ...DEFAULT_POLICY });
  });

  test("malformed payloads: refused with their id when they have one, else no ack", () => {
    expect(applier.apply(JSON.stringify({ id: "dec_broken1", type: "NOPE" }), NOW).ack).toMatchObject({ id: "dec_broken1", ok: false, error: expect.stringContaining("malformed") });
    expect(applier.apply("not json", NOW).ack).toBeNull();
  });

  test("before registration (no hub key) nothing applies", () => {
    const unregistered = recording(new DecisionApplier(store, "pi-01", () => null));
    expect(unregistered.apply(decision("MODE_CHANGE", { mode: "PAUSED" }), NOW).ack).toMatchObject({ ok: false, error: expect.stringContaining("no hub key") });
  });
});

describe("DecisionApplier.adoptDesiredPolicy", () => {
  /** A desired policy as the hub signs it, for `target` ("fleet" or a node id). */
  const desired = (target: string, version: number, mode: string, key = hub.privateKey) =>
    JSON.stringify(signMessage({ target, version, issuedAt: NOW, policy: { ...DEFAULT_POLICY, mode } }, key));

  test("newer verified policies are adopted; older, equal and forged ones are not", () => {
    expect(applier.adoptDesiredPolicy(desired("fleet", 3, "PAUSED"), "fleet", NOW)).toMatchObject({ mode: "PAUSED" });
    expect(applier.adoptDesiredPolicy(desired("fleet", 2, "LIVE"), "fleet", NOW)).toBeNull();
    expect(applier.adoptDesiredPolicy(desired("fleet", 3, "LIVE"), "fleet", NOW)).toBeNull();
    expect(applier.adoptDesiredPolicy(desired("fleet", 9, "EMERGENCY", forger.privateKey), "fleet", NOW)).toBeNull();
    expect(store.policy()).toMatchObject({ version: 3, source: "fleet", policy: { mode: "PAUSED" } });
  });

  test("a node policy of the same version beats the fleet's, and then fleet policies are ignored", () => {
    applier.adoptDesiredPolicy(desired("fleet", 5, "PAUSED"), "fleet", NOW);
    expect(applier.adoptDesiredPolicy(desired("pi-01", 5, "SHADOW"), "node", NOW)).toMatchObject({ mode: "SHADOW" });
    expect(applier.adoptDesiredPolicy(desired("fleet", 6, "LIVE"), "fleet", NOW)).toBeNull();
    expect(applier.adoptDesiredPolicy(desired("pi-01", 6, "EMERGENCY"), "node", NOW)).toMatchObject({ mode: "EMERGENCY" });
    expect(store.policy()).toMatchObject({ version: 6, source: "node" });
  });

  test("a signed policy of the wrong shape is refused", () => {
    const bad = JSON.stringify(signMessage({ target: "fleet", version: 9, issuedAt: NOW, policy: { mode: "FREEZE" } }, hub.privateKey));
    expect(applier.adoptDesiredPolicy(bad, "fleet", NOW)).toBeNull();
  });

  test("a policy signed for another node, or for the fleet, is refused on this node's topic, and the other way round, with the reason logged", () => {
    const logs: string[] = [];
    const logging = new DecisionApplier(store, "pi-01", () => hub.publicKey, (line) => logs.push(line));
    expect(logging.adoptDesiredPolicy(desired("pi-02", 7, "EMERGENCY"), "node", NOW)).toBeNull();
    expect(logging.adoptDesiredPolicy(desired("fleet", 8, "EMERGENCY"), "node", NOW)).toBeNull();
    expect(logging.adoptDesiredPolicy(desired("pi-01", 9, "EMERGENCY"), "fleet", NOW)).toBeNull();
    expect(store.policy()).toMatchObject({ version: 0, policy: { mode: "LIVE" } });
    expect(logs).toEqual([
      "refused the desired policy on nodes/pi-01/policy: signed for pi-02, not pi-01",
      "refused the desired policy on nodes/pi-01/policy: signed for fleet, not pi-01",
      "refused the desired policy on fleet/policy: signed for pi-01, not fleet",
    ]);
    // Its own, on its own topic, is adopted.
    expect(logging.adoptDesiredPolicy(desired("pi-01", 9, "EMERGENCY"), "node", NOW)).toMatchObject({ mode: "EMERGENCY" });
  });

  test("a policy signed without a target (a hub from before targets) is refused: the hub signs it again, bound, when it starts", () => {
    const logs: string[] = [];
    const logging = new DecisionApplier(store, "pi-01", () => hub.publicKey, (line) => logs.push(line));
    const unbound = JSON.stringify(signMessage({ version: 4, issuedAt: NOW, policy: { ...DEFAULT_POLICY, mode: "PAUSED" } }, hub.privateKey));
    expect(logging.adoptDesiredPolicy(unbound, "node", NOW)).toBeNull();
    expect(logs).toEqual([expect.stringContaining("refused the desired policy on nodes/pi-01/policy: malformed: target:")]);
    expect(logging.adoptDesiredPolicy("", "node", NOW)).toBeNull(); // a cleared retained topic is not worth a log line
    expect(logs).toHaveLength(1);
  });

  test("a deeply nested policy is refused before anything walks it", () => {
    const logs: string[] = [];
    const logging = new DecisionApplier(store, "pi-01", () => hub.publicKey, (line) => logs.push(line));
    const deep = `{"target":"pi-01","version":9,"issuedAt":1,"sig":"x","policy":{"x":${"[".repeat(10_000)}${"]".repeat(10_000)}}}`;
    expect(logging.adoptDesiredPolicy(deep, "node", NOW)).toBeNull();
    expect(logs).toEqual([expect.stringContaining("JSON nested deeper than the limit of 32 levels")]);
  });
});

describe("DecisionApplier.apply: STRATEGY_ALLOCATION and the node's allow tables", () => {
  test("names the node does not allow are taken with the rest, as the hub folds them, and logged", () => {
    const logs: string[] = [];
    const withModels = recording(new DecisionApplier(store, "pi-01", () => hub.publicKey, (line) => logs.push(line), { knownModels: () => new Set(["NHiTS", "XGBoost"]) }));
    // The hub refuses names no target allows; these it issued for other nodes of the fleet.
    const weights = { LightGBM: 0, XGBoost: 0.5 };
    const message = decision("STRATEGY_ALLOCATION", { model_weights: weights }, { target: "fleet" });
    const outcome = withModels.apply(message, NOW);
    expect(outcome.ack).toEqual({ id: JSON.parse(message).id, ok: true, appliedAt: NOW });
    expect(store.policy().policy).toEqual({ ...DEFAULT_POLICY, model_weights: weights }); // the hub's fold of it
    expect(logs).toEqual([`${JSON.parse(message).id} STRATEGY_ALLOCATION weighs ["LightGBM"], in none of this node's allow tables: no effect here`]);
    withModels.apply(decision("STRATEGY_ALLOCATION", { model_weights: { NHiTS: 0 } }), NOW);
    expect(logs).toHaveLength(1);
  });
});
