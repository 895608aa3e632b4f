// After a set-up's run: did its registry count every verdict acknowledged
// to the node, once? The load generator knows each node's last verdict seq
// acknowledged together with every seq before it (seqs 1..n). With a hub
// that receipts (protocol/receipts.ts, every hub since receipts) that is the
// HUB's receipt, sent after the registry commit: a shortfall here is then a
// committed verdict the registry does not hold, or a receipt sent too early.
// A verdict the broker acknowledged and no hub took (Mosquitto dropping the
// replicas' shared subscriptions across its restart) is not in `acked`: the
// node sends it again until its receipt, and one still without a receipt at
// the stop is counted by the load generator (verdictsAwaitingReceipt), not
// here. With a hub from before receipts `acked` is the broker's PUBACK, as
// it was. The registry's verdict tally of the node (hub/nodes/node-model.ts)
// says the last seq it applied, how many it counted, the gaps it saw and the
// duplicates it refused (a resend the hub had taken is one of those). A
// replica set-up that miscounts shows here (issue 16: every verdict once, no
// gap) rather than in a rate.
import type { NodeRecord } from "../../hub/nodes/node-model.ts";

export interface RegistryCheck {
  /** Nodes the load generator registered that the registry holds. */
  nodes: number;
  /** Verdicts acknowledged (the hub's receipt; the broker's PUBACK with a hub from before receipts), by the nodes' last acknowledged seqs. */
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
