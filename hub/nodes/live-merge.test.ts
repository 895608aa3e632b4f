// Tests for merging a replica's view of a node into the stored one
// (live-merge.ts): each rule alone, then properties over random runs of two
// replicas that hear a node's heartbeats and births in any split and write
// in any order: the stored view ends the same as one hub hearing it all.
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import type { ReportOf } from "../../protocol/reports.ts";
import { heartbeatMessage } from "../../test/fixtures/node-messages.ts";
import { registeredNode } from "../../test/fixtures/node-record.ts";
import { applyBirth, applyHeartbeat } from "../ingest/node-messages.ts";
import { mergeLive, mergeNode, type MergedNode } from "./live-merge.ts";
import { emptyLive, type NodeLive, type NodeRecord } from "./node-model.ts";
import { copyLive } from "./ordered-write.ts";

const T0 = 1_700_000_000_000;

function heard(ts: number, seq: number, live = emptyLive()): NodeLive {
  const node = registeredNode("pi-1", T0, { live: copyLive(live) });
  applyHeartbeat(node, heartbeatMessage(seq, ts, { uptime_s: seq }), ts + 5);
  return node.live;
}

function portfolio(ts: number): ReportOf["portfolio"] {
  return { total_equity: ts - T0, drawdown_pct: 0, max_drawdown_pct: 0, realized_pnl_today: 0, unrealized_pnl: 0, num_positions: 0, total_exposure_usd: 0, win_rate_today: 0, sharpe_ratio_7d: 0, ts };
}

describe("mergeLive", () => {
  test("the heartbeat's fields come from the newest heartbeat by the node's ts: an older one heard elsewhere does not replace it", () => {
    const stored = heard(T0 + 2000, 2);
    const mine = heard(T0 + 1000, 1);
    const merged = mergeLive(stored, mine, emptyLive());
    expect(merged).toMatchObject({ heartbeatTs: T0 + 2000, heartbeatSeq: 2, uptimeS: 2, lastHeartbeatAt: T0 + 2005, heartbeats: 2 });
    expect(mergeLive(mine, stored, emptyLive())).toMatchObject({ heartbeatTs: T0 + 2000, heartbeatSeq: 2, heartbeats: 2 });
  });

  test("counters add this replica's increments since its baseline, never overwrite", () => {
    const baseline = { ...emptyLive(), heartbeats: 10, reboots: 1, reconnects: 2 };
    const mine = { ...baseline, heartbeats: 13, reboots: 2, reconnects: 2 };
    const stored = { ...emptyLive(), heartbeats: 25, reboots: 1, reconnects: 5 };
    expect(mergeLive(stored, mine, baseline)).toMatchObject({ heartbeats: 28, reboots: 2, reconnects: 5 });
  });

  test("heartbeat gaps are counted from the stored seq: a gap one replica saw that the other filled is no gap", () => {
    // Replica a heard 1 and 3, replica b heard 2 and 4; a wrote first.
    const a = heard(T0 + 3, 3, heard(T0 + 1, 1));
    expect(a.heartbeatSeqGaps).toBe(1);
    const afterA = mergeLive(emptyLive(), a, emptyLive());
    const b = heard(T0 + 4, 4, heard(T0 + 2, 2));
    const afterB = mergeLive(afterA, b, emptyLive());
    expect(afterB).toMatchObject({ heartbeatSeq: 4, heartbeats: 4, heartbeatSeqGaps: 0 });
  });

  test("the state goes by when it was said; the birth's fields by the birth's ts, then its session", () => {
    const stored = { ...emptyLive(), state: "offline" as const, stateAt: T0 + 10, bootId: "boot-2", session: 1, birthTs: T0 + 5 };
    const mine = { ...emptyLive(), state: "online" as const, stateAt: T0 + 5, bootId: "boot-1", session: 3, birthTs: T0 + 1 };
    expect(mergeLive(stored, mine, emptyLive())).toMatchObject({ state: "offline", stateAt: T0 + 10, bootId: "boot-2", session: 1 });
    const reconnect = { ...stored, session: 2, state: "online" as const, stateAt: T0 + 11 };
    expect(mergeLive(stored, reconnect, stored)).toMatchObject({ state: "online", bootId: "boot-2", session: 2 });
  });

  test("what a birth changes in the row goes with the newer birth", () => {
    const row = (version: string, birthTs: number | null): MergedNode => ({ live: { ...emptyLive(), birthTs }, version, arch: "arm64", capabilities: [version] });
    expect(mergeNode(row("0.2.0", T0 + 2), row("0.1.0", T0 + 1), emptyLive())).toMatchObject({ version: "0.2.0", capabilities: ["0.2.0"] });
    expect(mergeNode(row("0.1.0", T0 + 1), row("0.2.0", T0 + 2), emptyLive())).toMatchObject({ version: "0.2.0", capabilities: ["0.2.0"] });
    expect(mergeNode(row("0.1.0", T0 + 1), row("0.0.9", null), emptyLive())).toMatchObject({ version: "0.1.0" });
  });

  test("reports: the latest of each series by its ts; a model only one replica heard is kept; duplicates add up", () => {
    const model = (name: string, ts: number) => ({ report: { model_name: name, sharpe_ratio: 1, win_rate: 0.5, profit_factor: 1, total_trades: 1, days_since_training: 1, ts }, receivedAt: ts });
    const stored = { ...emptyLive(), reports: { portfolio: { report: portfolio(T0 + 2), receivedAt: 0 }, health: null, models: [model("m1", T0 + 5)], duplicates: 1 } };
    const mine = { ...emptyLive(), reports: { portfolio: { report: portfolio(T0 + 1), receivedAt: 0 }, health: null, models: [model("m1", T0 + 6), model("m2", T0)], duplicates: 3 } };
    const merged = mergeLive(stored, mine, { ...emptyLive(), reports: { ...emptyLive().reports, duplicates: 2 } }).reports;
    expect(merged.portfolio?.report.ts).toBe(T0 + 2);
    expect(merged.models.map((m) => [m.report.model_name, m.report.ts])).toEqual([["m1", T0 + 6], ["m2", T0]]);
    expect(merged.duplicates).toBe(2);
  });

  test("the verdict and close tallies are the stored ones: the database counts them", () => {
    const stored = { ...emptyLive(), verdicts: { lastSeq: 9, byVerdict: { PASS: 9 }, byReason: {}, duplicates: 0, missing: 0 } };
    const mine = { ...emptyLive(), verdicts: { lastSeq: 3, byVerdict: { PASS: 3 }, byReason: {}, duplicates: 4, missing: 0 } };
    expect(mergeLive(stored, mine, emptyLive()).verdicts).toEqual(stored.verdicts);
  });
});

/** A replica as the fleet keeps one node: its view, and the baseline it last wrote or read back. */
interface Replica {
  node: NodeRecord;
  baseline: NodeLive;
}

/** What the fleet does at a write: merge into the stored view, then take the result back as view and baseline. */
function write(stored: NodeLive, replica: Replica): NodeLive {
  const merged = mergeLive(stored, replica.node.live, replica.baseline);
  replica.node.live = copyLive(merged);
  replica.baseline = copyLive(merged);
  return merged;
}

describe("mergeLive properties", () => {
  // Heartbeats 1..n in the order sent (ts rising), each heard by replica 0 or 1; `writes` says after which heartbeat which replica writes.
  const runs = fc.integer({ min: 1, max: 40 }).chain((n) =>
    fc.record({
      heardBy: fc.array(fc.integer({ min: 0, max: 1 }), { minLength: n, maxLength: n }),
      lost: fc.array(fc.boolean(), { minLength: n, maxLength: n }),
      writes: fc.array(fc.record({ after: fc.integer({ min: 0, max: n }), by: fc.integer({ min: 0, max: 1 }) }), { maxLength: 12 }),
    }),
  );

  test("however two replicas split a node's heartbeats and whenever they write, the stored view ends as one hub's: newest heartbeat, every one counted", () => {
    fc.assert(
      fc.property(runs, ({ heardBy, lost, writes }) => {
        const replicas: Replica[] = [0, 1].map(() => ({ node: registeredNode("pi-1", T0), baseline: emptyLive() }));
        const oneHub = registeredNode("pi-1", T0);
        let stored = emptyLive();
        for (let seq = 1; seq <= heardBy.length; seq++) {
          for (const w of writes.filter((w) => w.after === seq - 1)) stored = write(stored, replicas[w.by]!);
          if (lost[seq - 1]) continue; // QoS 0: never arrived
          const message = heartbeatMessage(seq, T0 + seq * 1000, { uptime_s: seq });
          applyHeartbeat(replicas[heardBy[seq - 1]!]!.node, message, T0 + seq * 1000 + 5);
          applyHeartbeat(oneHub, message, T0 + seq * 1000 + 5);
        }
        for (const replica of replicas) stored = write(stored, replica);
        const fields = (live: NodeLive) => ({ heartbeats: live.heartbeats, heartbeatTs: live.heartbeatTs, heartbeatSeq: live.heartbeatSeq, uptimeS: live.uptimeS, lastSeen: live.lastSeen });
        expect(fields(stored)).toEqual(fields(oneHub.live));
        // Gaps: the seqs skipped between the first and the newest heard, as one hub counts them.
        expect(stored.heartbeatSeqGaps).toBe(oneHub.live.heartbeatSeqGaps);
      }),
      { numRuns: 300 },
    );
  });

  test("reboots and reconnects heard on either replica add up to what one hub counts, and the newest birth stands", () => {
    // Births in order: each a reconnect (session + 1) or a reboot (new boot), heard by either replica, whose view is the stored one when it hears it.
    const births = fc.array(fc.record({ reboot: fc.boolean(), by: fc.integer({ min: 0, max: 1 }) }), { minLength: 1, maxLength: 20 });
    fc.assert(
      fc.property(births, (list) => {
        const replicas: Replica[] = [0, 1].map(() => ({ node: registeredNode("pi-1", T0), baseline: emptyLive() }));
        const oneHub = registeredNode("pi-1", T0);
        let stored = emptyLive();
        let boot = 0;
        let session = 1;
        list.forEach(({ reboot, by }, i) => {
          if (reboot) [boot, session] = [boot + 1, 1];
          else session++;
          const birth = { node_id: "pi-1", version: "0.1.0", arch: "arm64" as const, capabilities: [], kernel_config_hash: "sha256:0123456789abcdef", bootId: `boot-${boot}`, session, ts: T0 + i };
          const replica = replicas[by]!;
          stored = write(stored, replica); // it reads the stored view back before it hears the birth (a write of its own, or the change feed)
          applyBirth(replica.node, birth, T0 + i);
          applyBirth(oneHub, birth, T0 + i);
          stored = write(stored, replica);
        });
        for (const replica of replicas) stored = write(stored, replica);
        expect({ reboots: stored.reboots, reconnects: stored.reconnects, bootId: stored.bootId, session: stored.session }).toEqual({
          reboots: oneHub.live.reboots,
          reconnects: oneHub.live.reconnects,
          bootId: oneHub.live.bootId,
          session: oneHub.live.session,
        });
      }),
      { numRuns: 200 },
    );
  });
});
