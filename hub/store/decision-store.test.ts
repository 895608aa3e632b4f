// Tests for the decisions audit trail (decision-store.ts) in a real registry
// file: what stays pending for a node, and how a removal closes it.
import { afterEach, describe, expect, test } from "bun:test";
import type { DecisionMessage } from "../../protocol/messages.ts";
import { cleanUp, closeLater, tempDir } from "../../test/helpers.ts";
import { openRegistry } from "./registry.ts";

const NOW = 1_700_000_000_000;

afterEach(cleanUp);

function decision(seq: number, target: string, expiresAt = NOW + 3600_000): DecisionMessage {
  return { id: `dec_${seq}`, seq, type: "OVERRIDE", target, payload: {}, issuedAt: NOW, expiresAt, sig: "sig" } as DecisionMessage;
}

describe("DecisionStore", () => {
  test("closing a removed node's decisions: what it had not acknowledged is closed as removed, nothing else changes", () => {
    const { decisions } = closeLater(openRegistry(tempDir()));
    decisions.add(decision(1, "pi-1"), ["pi-1"]); // acknowledged before the removal
    decisions.add(decision(2, "pi-1"), ["pi-1"]); // pending
    decisions.add(decision(3, "pi-1", NOW - 1), ["pi-1"]); // expired, never acknowledged
    decisions.add(decision(4, "fleet"), ["pi-1", "pi-2"]); // pending for both
    decisions.add(decision(5, "pi-2"), ["pi-2"]);
    decisions.addAck("dec_1", { nodeId: "pi-1", ok: true, error: null, appliedAt: NOW + 1, receivedAt: NOW + 2 });
    expect(decisions.pendingFor("pi-1", NOW).map((d) => d.id)).toEqual(["dec_2", "dec_4"]);

    expect(decisions.closePending("pi-1", "node_removed", NOW + 10)).toBe(3);
    expect(decisions.pendingFor("pi-1", NOW)).toEqual([]);
    const closed = { nodeId: "pi-1", ok: false, error: "node_removed", appliedAt: NOW + 10, receivedAt: NOW + 10 };
    for (const id of ["dec_2", "dec_3"]) expect(decisions.acks(id)).toEqual([closed]);
    expect(decisions.acks("dec_1")).toEqual([{ nodeId: "pi-1", ok: true, error: null, appliedAt: NOW + 1, receivedAt: NOW + 2 }]); // its own ack stands
    expect(decisions.acks("dec_4")).toEqual([closed]); // the other target is still waited for
    expect(decisions.pendingFor("pi-2", NOW).map((d) => d.id)).toEqual(["dec_4", "dec_5"]);

    // Once closed, closed: a second removal or a late ack changes nothing.
    expect(decisions.closePending("pi-1", "node_removed", NOW + 20)).toBe(0);
    decisions.addAck("dec_2", { nodeId: "pi-1", ok: true, error: null, appliedAt: NOW + 30, receivedAt: NOW + 30 });
    expect(decisions.acks("dec_2")).toEqual([closed]);
    // A decision sent to the id after that is pending as usual.
    decisions.add(decision(6, "pi-1"), ["pi-1"]);
    expect(decisions.pendingFor("pi-1", NOW).map((d) => d.id)).toEqual(["dec_6"]);
  });
});
