// Tests for ReceiptSender (receipts.ts): ids gathered per node go out on the
// next tick as one receipt per node, as ranges; ids whose receipt could not
// be sent are counted as such and not kept; stop() sends nothing more.
import { expect, test } from "bun:test";
import { MAX_RECEIPT_RANGES, ReceiptMessage } from "../../protocol/receipts.ts";
import { nodeTopic } from "../../protocol/topics.ts";
import { eventually } from "../../test/support/hub-harness.ts";
import { ReceiptSender } from "./receipts.ts";

const T = 1_700_000_000_000;

function sender(options: { accept?: (topic: string) => boolean; tickMs?: number } = {}) {
  const sent: { topic: string; receipt: ReceiptMessage }[] = [];
  const counts = { sent: 0, unsent: 0 };
  const receipts = new ReceiptSender({
    send(topic, payload) {
      if (options.accept && !options.accept(topic)) return false;
      sent.push({ topic, receipt: ReceiptMessage.parse(JSON.parse(payload)) });
      return true;
    },
    counted(sentIds, unsentIds) {
      counts.sent += sentIds;
      counts.unsent += unsentIds;
    },
    clock: () => T,
    tickMs: options.tickMs,
  });
  return { receipts, sent, counts };
}

test("ids added in one turn go out together on the next, one receipt per node, as ranges", async () => {
  const { receipts, sent, counts } = sender();
  for (const ob of [5, 3, 4, 9, 4]) receipts.add("pi-1", ob);
  receipts.add("pi-2", 1);
  expect(sent).toEqual([]); // nothing in the turn the commits resolved in
  await eventually(() => sent.length === 2, 1000, "the two receipts");
  expect(sent).toEqual([
    { topic: nodeTopic("pi-1", "receipts"), receipt: { ob: [[3, 5], [9, 9]], ts: T } },
    { topic: nodeTopic("pi-2", "receipts"), receipt: { ob: [[1, 1]], ts: T } },
  ]);
  expect(counts).toEqual({ sent: 5, unsent: 0 });
  receipts.add("pi-1", 10); // a later turn: a receipt of its own
  await eventually(() => sent.length === 3, 1000, "the next receipt");
  expect(sent[2]!.receipt.ob).toEqual([[10, 10]]);
});

test("with a tick of some milliseconds, ids added meanwhile share the receipt", async () => {
  const { receipts, sent } = sender({ tickMs: 20 });
  receipts.add("pi-1", 1);
  await new Promise((resolve) => setImmediate(resolve));
  receipts.add("pi-1", 2);
  await eventually(() => sent.length > 0, 1000, "the receipt");
  expect(sent).toEqual([{ topic: nodeTopic("pi-1", "receipts"), receipt: { ob: [[1, 2]], ts: T } }]);
});

test("more ranges than one receipt holds go out as several receipts", () => {
  const { receipts, sent } = sender();
  for (let i = 0; i <= MAX_RECEIPT_RANGES; i++) receipts.add("pi-1", 1 + 2 * i); // no two adjacent
  receipts.flush();
  expect(sent.map((s) => s.receipt.ob.length)).toEqual([MAX_RECEIPT_RANGES, 1]);
});

test("ids whose receipt could not be sent are counted, not kept for later (the node sends those events again)", () => {
  const { receipts, sent, counts } = sender({ accept: (topic) => topic !== nodeTopic("pi-down", "receipts") });
  receipts.add("pi-down", 1);
  receipts.add("pi-down", 2);
  receipts.add("pi-up", 7);
  receipts.flush();
  expect(counts).toEqual({ sent: 1, unsent: 2 });
  receipts.flush();
  expect(sent.map((s) => s.topic)).toEqual([nodeTopic("pi-up", "receipts")]);
});

test("stop() drops what is gathered and cancels its tick", async () => {
  const { receipts, sent } = sender();
  receipts.add("pi-1", 1);
  receipts.stop();
  receipts.add("pi-2", 2); // a tick of its own: once it went, pi-1's would have gone before
  await eventually(() => sent.length > 0, 1000, "pi-2's receipt");
  expect(sent.map((s) => s.topic)).toEqual([nodeTopic("pi-2", "receipts")]);
});
