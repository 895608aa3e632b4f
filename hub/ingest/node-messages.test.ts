// Tests for what each agent message does to the fleet view (node-messages.ts):
// heartbeat seq gaps and restarts, the verdict tally, reboots vs reconnects,
// which state message wins, and the latest strategy report of each series.
import { describe, expect, test } from "bun:test";
import type { BirthMessage, HeartbeatMessage, StateMessage, VerdictEventMessage } from "../../protocol/messages.ts";
import type { NodeRecord } from "../nodes/node-model.ts";
import { MAX_MODELS_PER_NODE, type ReportOf } from "../../protocol/reports.ts";
import { registeredNode } from "../../test/fixtures/node-record.ts";
import { heartbeatMessage, verdictMessage } from "../../test/fixtures/node-messages.ts";
import { applyBirth, applyHeartbeat, applyReport, applyState, applyVerdict, MAX_DISTINCT_REASONS, OTHER_REASONS } from "./node-messages.ts";

const T0 = 1_700_000_000_000;

const node = (): NodeRecord => registeredNode("pi-1", T0 - 1000);

const heartbeat = (seq: number, overrides: Partial<HeartbeatMessage> = {}): HeartbeatMessage => heartbeatMessage(seq, T0, overrides);

const verdict = (seq: number, kind: "PASS" | "HOLD" = "PASS", reasons: string[] = []): VerdictEventMessage => verdictMessage(seq, T0, kind, reasons);

function birth(bootId: string, session: number, overrides: Partial<BirthMessage> = {}): BirthMessage {
  return {
    node_id: "pi-1",
    version: "1.2.3",
    arch: "x64",
    capabilities: ["gate", "journal"],
    kernel_config_hash: "sha256:0123456789abcdef",
    bootId,
    session,
    ts: T0,
    ...overrides,
  };
}

const state = (s: "online" | "offline", ts: number, bootId = "boot-a"): StateMessage => ({ state: s, bootId, ts });

describe("applyHeartbeat", () => {
  test("the first heartbeat counts no gap, whatever its seq", () => {
    const n = node();
    applyHeartbeat(n, heartbeat(41), T0);
    expect(n.live.heartbeatSeq).toBe(41);
    expect(n.live.heartbeatSeqGaps).toBe(0);
    expect(n.live.heartbeats).toBe(1);
  });

  test("consecutive seqs count no gap; skipped seqs count each", () => {
    const n = node();
    for (const seq of [0, 1, 2]) applyHeartbeat(n, heartbeat(seq), T0 + seq);
    expect(n.live.heartbeatSeqGaps).toBe(0);
    applyHeartbeat(n, heartbeat(5), T0 + 5); // 3 and 4 lost
    expect(n.live.heartbeatSeqGaps).toBe(2);
    applyHeartbeat(n, heartbeat(6), T0 + 6);
    applyHeartbeat(n, heartbeat(10), T0 + 10); // 7, 8, 9 lost
    expect(n.live.heartbeatSeqGaps).toBe(5);
    expect(n.live.heartbeats).toBe(6);
    expect(n.live.heartbeatSeq).toBe(10);
  });

  test("a seq going down is a restart, not a gap, and counting resumes from it", () => {
    const n = node();
    for (const seq of [7, 8, 9]) applyHeartbeat(n, heartbeat(seq), T0 + seq);
    applyHeartbeat(n, heartbeat(0), T0 + 20); // agent restarted
    expect(n.live.heartbeatSeqGaps).toBe(0);
    expect(n.live.heartbeatSeq).toBe(0);
    applyHeartbeat(n, heartbeat(1), T0 + 21);
    expect(n.live.heartbeatSeqGaps).toBe(0);
    applyHeartbeat(n, heartbeat(3), T0 + 23);
    expect(n.live.heartbeatSeqGaps).toBe(1);
    expect(n.live.heartbeats).toBe(6);
  });

  test("a repeated seq is no gap", () => {
    const n = node();
    applyHeartbeat(n, heartbeat(4), T0);
    applyHeartbeat(n, heartbeat(4), T0 + 1);
    expect(n.live.heartbeatSeqGaps).toBe(0);
    expect(n.live.heartbeats).toBe(2);
  });

  test("copies the node's vitals and marks it online as of now", () => {
    const n = node();
    n.live.state = "offline";
    n.live.stateAt = T0 - 50;
    applyHeartbeat(n, heartbeat(3, { mode: "SHADOW", connectivity: "simulation", simulated: true, outbox_depth: 17, ts: T0 - 999 }), T0);
    expect(n.live).toMatchObject({
      state: "online",
      stateAt: T0,
      lastHeartbeatAt: T0,
      lastSeen: T0,
      uptimeS: 12.5,
      load: [0.5, 0.25, 0.125],
      rssBytes: 50_000_000,
      mode: "SHADOW",
      connectivity: "simulation",
      simulated: true,
      outboxDepth: 17,
      kernel: { evaluated: 10, passed: 6, held: 4, duplicates: 0, recovered: 0 },
    });
  });
});

describe("applyVerdict", () => {
  test("counts each seq once, by verdict and by reason", () => {
    const n = node();
    applyVerdict(n, verdict(1, "PASS"), T0);
    applyVerdict(n, verdict(2, "HOLD", ["EDGE_TOO_SMALL", "COOLDOWN"]), T0 + 1);
    applyVerdict(n, verdict(3, "HOLD", ["COOLDOWN"]), T0 + 2);
    expect(n.live.verdicts).toEqual({
      lastSeq: 3,
      byVerdict: { PASS: 1, HOLD: 2 },
      byReason: { EDGE_TOO_SMALL: 1, COOLDOWN: 2 },
      duplicates: 0,
      missing: 0,
    });
    expect(n.live.lastSeen).toBe(T0 + 2);
  });

  test("a redelivered seq (equal or lower) is a duplicate and not counted again", () => {
    const n = node();
    applyVerdict(n, verdict(1, "HOLD", ["RATE_LIMIT"]), T0);
    applyVerdict(n, verdict(2, "PASS"), T0);
    applyVerdict(n, verdict(2, "PASS"), T0 + 5);
    applyVerdict(n, verdict(1, "HOLD", ["RATE_LIMIT"]), T0 + 6);
    expect(n.live.verdicts).toEqual({
      lastSeq: 2,
      byVerdict: { HOLD: 1, PASS: 1 },
      byReason: { RATE_LIMIT: 1 },
      duplicates: 2,
      missing: 0,
    });
    expect(n.live.lastSeen).toBe(T0 + 6); // a duplicate still shows the node is alive
  });

  test("skipped seqs are counted as missing", () => {
    const n = node();
    applyVerdict(n, verdict(1), T0);
    applyVerdict(n, verdict(4), T0); // 2 and 3 never arrived
    applyVerdict(n, verdict(10, "HOLD", ["R_TOO_LOW"]), T0); // 5..9 never arrived
    expect(n.live.verdicts).toEqual({
      lastSeq: 10,
      byVerdict: { PASS: 2, HOLD: 1 },
      byReason: { R_TOO_LOW: 1 },
      duplicates: 0,
      missing: 7,
    });
  });

  test("a first event above seq 1 counts the earlier seqs as missing", () => {
    const n = node();
    applyVerdict(n, verdict(5), T0);
    expect(n.live.verdicts.missing).toBe(4);
    expect(n.live.verdicts.lastSeq).toBe(5);
  });

  test("reasons named like Object.prototype's members are counted like any other, also after a JSON round trip", () => {
    const names = ["constructor", "toString", "__proto__", "hasOwnProperty", "valueOf"];
    const n = node();
    applyVerdict(n, verdict(1, "HOLD", names), T0);
    applyVerdict(n, verdict(2, "HOLD", ["constructor", "__proto__"]), T0);
    expect(JSON.stringify(n.live.verdicts.byReason)).toBe('{"constructor":2,"toString":1,"__proto__":2,"hasOwnProperty":1,"valueOf":1}');
    expect(Object.keys(n.live.verdicts.byReason)).toEqual(names);
    expect(Object.getPrototypeOf(n.live.verdicts.byReason)).toBe(Object.prototype); // the prototype was not replaced

    // As the registry stores and loads it: JSON, so an ordinary object again.
    n.live.verdicts.byReason = JSON.parse(JSON.stringify(n.live.verdicts.byReason));
    applyVerdict(n, verdict(3, "HOLD", ["toString", "__proto__"]), T0);
    expect(JSON.stringify(n.live.verdicts.byReason)).toBe('{"constructor":2,"toString":2,"__proto__":3,"hasOwnProperty":1,"valueOf":1}');
  });

  test("at most MAX_DISTINCT_REASONS reasons are kept; later ones, prototype names included, count as OTHER", () => {
    const n = node();
    const many = Array.from({ length: MAX_DISTINCT_REASONS }, (_, i) => `REASON_${i}`);
    for (let i = 0; i < many.length; i += 32) applyVerdict(n, verdict(1 + i / 32, "HOLD", many.slice(i, i + 32)), T0);
    applyVerdict(n, verdict(10, "HOLD", ["constructor", "toString", "__proto__", "REASON_0", "NEW"]), T0);
    const byReason = n.live.verdicts.byReason;
    expect(Object.keys(byReason).length).toBe(MAX_DISTINCT_REASONS + 1);
    expect(Object.hasOwn(byReason, "constructor") || Object.hasOwn(byReason, "toString") || Object.hasOwn(byReason, "__proto__")).toBe(false);
    expect(byReason[OTHER_REASONS]).toBe(4);
    expect(byReason.REASON_0).toBe(2);
  });

  test("a late event below the last seq does not undo the missing count or the tally", () => {
    const n = node();
    applyVerdict(n, verdict(1), T0);
    applyVerdict(n, verdict(3), T0);
    applyVerdict(n, verdict(2, "HOLD", ["COOLDOWN"]), T0);
    expect(n.live.verdicts).toEqual({ lastSeq: 3, byVerdict: { PASS: 2 }, byReason: {}, duplicates: 1, missing: 1 });
  });
});

describe("applyBirth", () => {
  test("the first birth is neither a reboot nor a reconnect, and records identity", () => {
    const n = node();
    applyBirth(n, birth("boot-a", 1), T0);
    expect(n.live).toMatchObject({ bootId: "boot-a", session: 1, kernelConfigHash: "sha256:0123456789abcdef", reboots: 0, reconnects: 0, lastSeen: T0 });
    expect(n.version).toBe("1.2.3");
    expect(n.arch).toBe("x64");
    expect(n.capabilities).toEqual(["gate", "journal"]);
  });

  test("the allow tables of the latest birth; none from an older agent's", () => {
    const n = node();
    const tables = { TREND: ["NHiTS"], RANGE: [], HIGH_VOL: [], LOW_VOL: [] };
    applyBirth(n, birth("boot-a", 1, { allowed_models: tables }), T0);
    expect(n.live.allowTables).toEqual(tables);
    applyBirth(n, birth("boot-b", 1), T0 + 1);
    expect(n.live.allowTables).toBeNull();
  });

  test("a higher session with the same bootId is a reconnect", () => {
    const n = node();
    applyBirth(n, birth("boot-a", 1), T0);
    applyBirth(n, birth("boot-a", 2), T0 + 1);
    applyBirth(n, birth("boot-a", 5), T0 + 2);
    expect(n.live).toMatchObject({ reboots: 0, reconnects: 2, session: 5 });
  });

  test("a new bootId is a reboot, not also a reconnect", () => {
    const n = node();
    applyBirth(n, birth("boot-a", 3), T0);
    applyBirth(n, birth("boot-b", 1), T0 + 1);
    expect(n.live).toMatchObject({ reboots: 1, reconnects: 0, bootId: "boot-b", session: 1 });
    applyBirth(n, birth("boot-c", 9), T0 + 2); // a higher session does not make it a reconnect
    expect(n.live).toMatchObject({ reboots: 2, reconnects: 0, bootId: "boot-c", session: 9 });
    applyBirth(n, birth("boot-c", 10), T0 + 3);
    expect(n.live).toMatchObject({ reboots: 2, reconnects: 1 });
  });

  test("the same birth again (retained redelivery) counts nothing", () => {
    const n = node();
    applyBirth(n, birth("boot-a", 2), T0);
    applyBirth(n, birth("boot-a", 2), T0 + 1);
    applyBirth(n, birth("boot-a", 1), T0 + 2);
    expect(n.live).toMatchObject({ reboots: 0, reconnects: 0 });
  });

  test("a new kernel config hash and version replace the old ones", () => {
    const n = node();
    applyBirth(n, birth("boot-a", 1), T0);
    applyBirth(n, birth("boot-b", 1, { kernel_config_hash: "sha256:fedcba9876543210", version: "1.2.4" }), T0 + 1);
    expect(n.live.kernelConfigHash).toBe("sha256:fedcba9876543210");
    expect(n.version).toBe("1.2.4");
  });
});

describe("applyState", () => {
  test("a live state is as of now, whatever its ts, and counts as seen", () => {
    const n = node();
    applyState(n, state("online", T0 - 60_000), T0, false);
    expect(n.live).toMatchObject({ state: "online", stateAt: T0, lastSeen: T0 });
  });

  test("a retained state uses its own ts and does not count as seen", () => {
    const n = node();
    applyState(n, state("offline", T0 - 60_000), T0, true);
    expect(n.live).toMatchObject({ state: "offline", stateAt: T0 - 60_000, lastSeen: null });
  });

  test("a retained state from the future is as of now", () => {
    const n = node();
    applyState(n, state("online", T0 + 3_600_000), T0, true);
    expect(n.live.stateAt).toBe(T0);
  });

  test("a retained state older than what the hub knows is ignored", () => {
    const n = node();
    applyHeartbeat(n, heartbeat(1), T0); // online as of T0
    applyState(n, state("offline", T0 - 1), T0 + 5000, true);
    expect(n.live).toMatchObject({ state: "online", stateAt: T0, lastSeen: T0 });
  });

  test("a retained state as new as or newer than what the hub knows applies", () => {
    const n = node();
    applyState(n, state("online", T0 - 10_000), T0, false);
    expect(n.live.stateAt).toBe(T0);
    applyState(n, state("offline", T0 + 2000), T0 + 5000, true);
    expect(n.live).toMatchObject({ state: "offline", stateAt: T0 + 2000, lastSeen: T0 });
    applyState(n, state("online", T0 + 2000), T0 + 6000, true);
    expect(n.live).toMatchObject({ state: "online", stateAt: T0 + 2000 });
  });

  test("a live state always applies, even after a newer retained one", () => {
    const n = node();
    applyState(n, state("online", T0 + 1000), T0 + 1000, true);
    applyState(n, state("offline", T0), T0 + 1000, false);
    expect(n.live).toMatchObject({ state: "offline", stateAt: T0 + 1000, lastSeen: T0 + 1000 });
  });
});

describe("applyReport", () => {
  const health = (ts: number, ess_state: ReportOf["health"]["ess_state"] = "NOMINAL"): ReportOf["health"] => ({ system_status: "HEALTHY", ess_state, ts });
  const model = (model_name: string, ts: number): ReportOf["models"] => ({ model_name, sharpe_ratio: 1, win_rate: 0.5, profit_factor: 1.3, total_trades: 9, days_since_training: 1, ts });

  test("a newer report becomes the latest of its series, with when the hub heard it, and counts as seen", () => {
    const n = node();
    expect(applyReport(n, "health", health(T0), T0 + 5)).toBe("new");
    expect(applyReport(n, "health", health(T0 + 1, "CAUTION"), T0 + 6)).toBe("new");
    expect(n.live.reports.health).toEqual({ report: health(T0 + 1, "CAUTION"), receivedAt: T0 + 6 });
    expect(n.live.lastSeen).toBe(T0 + 6);
    expect(n.live.reports.portfolio).toBeNull();
  });

  test("one dated at or before the latest is a redelivery: counted as a duplicate, the latest kept", () => {
    const n = node();
    applyReport(n, "health", health(T0 + 10), T0);
    expect(applyReport(n, "health", health(T0 + 10), T0 + 1)).toBe("duplicate");
    expect(applyReport(n, "health", health(T0 + 9, "CRITICAL"), T0 + 2)).toBe("duplicate");
    expect(n.live.reports).toMatchObject({ health: { report: health(T0 + 10), receivedAt: T0 }, duplicates: 2 });
  });

  test("each model is its own series, in the order first reported; past MAX_MODELS_PER_NODE a new model is refused", () => {
    const n = node();
    expect(applyReport(n, "models", model("NHiTS", T0 + 5), T0)).toBe("new");
    expect(applyReport(n, "models", model("XGBoost", T0), T0)).toBe("new"); // older than NHiTS's: another series
    expect(applyReport(n, "models", model("NHiTS", T0 + 6), T0)).toBe("new");
    expect(applyReport(n, "models", model("NHiTS", T0 + 6), T0)).toBe("duplicate");
    expect(n.live.reports.models.map((m) => [m.report.model_name, m.report.ts])).toEqual([
      ["NHiTS", T0 + 6],
      ["XGBoost", T0],
    ]);
    for (let i = 2; i < MAX_MODELS_PER_NODE; i++) expect(applyReport(n, "models", model(`m-${i}`, T0), T0)).toBe("new");
    expect(applyReport(n, "models", model("one-too-many", T0), T0)).toBe("too many models");
    expect(applyReport(n, "models", model("XGBoost", T0 + 1), T0)).toBe("new"); // a known one still reports
    expect(n.live.reports.models).toHaveLength(MAX_MODELS_PER_NODE);
  });

  test("models named like Object.prototype's members are models like any other, also after a JSON round trip", () => {
    const n = node();
    for (const name of ["__proto__", "constructor", "toString"]) expect(applyReport(n, "models", model(name, T0), T0)).toBe("new");
    const back = { ...n, live: JSON.parse(JSON.stringify(n.live)) } as NodeRecord;
    expect(applyReport(back, "models", model("__proto__", T0), T0)).toBe("duplicate");
    expect(back.live.reports.models.map((m) => m.report.model_name)).toEqual(["__proto__", "constructor", "toString"]);
  });
});
