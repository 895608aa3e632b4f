// After a set-up's run: did its registry count every verdict the broker
// acknowledged, once? The load generator knows each node's last verdict seq
// the broker acknowledged (seqs 1..n, each published once, retried only by
// MQTT itself); the registry's verdict tally of the node (hub/nodes/
// node-model.ts) says the last seq it applied, how many it counted, the gaps
// it saw and the duplicates it refused. A replica set-up that miscounts
// shows here (issue 16: every verdict once, no gap) rather than in a rate.
import type { NodeRecord } from "../../hub/nodes/node-model.ts";

export interface RegistryCheck {
  /** Nodes the load generator registered that the registry holds. */
  nodes: number;
  /** Verdicts the broker acknowledged, by the nodes' last acknowledged seqs. */
  acked: number;
  /** Verdicts the registry counted (at most one per seq). */
  counted: number;
  /** Acknowledged verdicts the registry does not hold: lost. */
  lost: number;
  /** Seqs the registry saw skipped over (its `missing`), and refused as already seen (its `duplicates`). */
  gaps: number;
  duplicates: number;
  /** Nodes whose count falls short of what the broker acknowledged. */
  nodesShort: number;
}

export function checkRegistry(ackedSeqs: Record<string, number>, records: readonly NodeRecord[]): RegistryCheck {
  const byId = new Map(records.map((record) => [record.nodeId, record]));
  const check: RegistryCheck = { nodes: 0, acked: 0, counted: 0, lost: 0, gaps: 0, duplicates: 0, nodesShort: 0 };
  for (const [nodeId, ackedSeq] of Object.entries(ackedSeqs)) {
    const tally = byId.get(nodeId)?.live.verdicts;
    check.acked += ackedSeq;
    if (!tally) {
      check.lost += ackedSeq;
      if (ackedSeq > 0) check.nodesShort++;
      continue;
    }
    check.nodes++;
    const counted = Object.values(tally.byVerdict).reduce((sum, n) => sum + n, 0);
    check.counted += counted;
    check.gaps += tally.missing;
    check.duplicates += tally.duplicates;
    // Verdicts sent but not yet acknowledged at the stop may be counted too: only a shortfall is a loss.
    if (counted < ackedSeq) {
      check.lost += ackedSeq - counted;
      check.nodesShort++;
    }
  }
  return check;
}
