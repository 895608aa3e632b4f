import { expect, test } from "bun:test";
import { decodeTopic, isReceipted, NODE_TO_HUB_KINDS } from "./topics.ts";
import { idRanges, MAX_RECEIPT_RANGES, receiptsFor, withOutboxRef } from "./receipts.ts";

const verdict = { seq: 7, ts: 1, simulated: false, symbol: "BTC", verdict: { id: "v7", verdict: "PASS", reasons: [], enforced: true, mode: "live", metrics: {} } };

test("the events a node sends through its outbox are receipted; heartbeats, state and birth are not", () => {
  expect(NODE_TO_HUB_KINDS.filter(isReceipted)).toEqual(["verdicts", "cmd/ack", "closes", "portfolio", "health", "models", "work/progress", "work/result"]);
});

test("an event with its outbox id decodes to the same message, the id beside it", () => {
  const close = { seq: 3, symbol: "ETH", ts: 1700000000000 };
  const plain = decodeTopic("closes", Buffer.from(JSON.stringify(close)));
  const withRef = decodeTopic("closes", Buffer.from(withOutboxRef(JSON.stringify(close), 42)));
  expect(plain).toEqual({ ok: true, value: close });
  expect(withRef).toEqual({ ok: true, value: close, ob: 42 });
});

test("a bad outbox id is refused with the field named, and kinds that are not receipted refuse ob like any unknown field", () => {
  for (const ob of [0, -1, 1.5, "7", null, 2 ** 60]) {
    const result = decodeTopic("closes", Buffer.from(JSON.stringify({ ob, seq: 3, symbol: "ETH", ts: 1 })));
    expect(result).toEqual({ ok: false, error: "ob: an outbox id is a positive integer" });
  }
  const heartbeat = decodeTopic("heartbeat", Buffer.from(withOutboxRef(JSON.stringify({ seq: 1 }), 5)));
  expect(heartbeat.ok).toBe(false);
  expect(decodeTopic("hub/state", Buffer.from(withOutboxRef(JSON.stringify({ state: "online", ts: 1 }), 5))).ok).toBe(false);
});

test("a payload its schema refuses keeps its readable outbox id beside the error (the hub receipts it: no hub would ever take it)", () => {
  const refused = decodeTopic("closes", Buffer.from(withOutboxRef(JSON.stringify({ seq: "three", symbol: "ETH", ts: 1 }), 12)));
  expect(refused).toEqual({ ok: false, error: expect.stringContaining("seq:"), ob: 12 });
  expect(decodeTopic("closes", Buffer.from(JSON.stringify({ seq: "three", symbol: "ETH", ts: 1 })))).not.toHaveProperty("ob");
});

test("withOutboxRef adds the id to any JSON object, and refuses what is not one", () => {
  expect(JSON.parse(withOutboxRef(JSON.stringify(verdict), 9))).toEqual({ ob: 9, ...verdict });
  expect(withOutboxRef("{}", 1)).toBe('{"ob":1}');
  expect(withOutboxRef("{ }", 1)).toBe('{"ob":1}');
  expect(() => withOutboxRef("[1]", 1)).toThrow(/not a JSON object/);
  expect(() => withOutboxRef("{}", 0)).toThrow(/positive integer/);
});

test("ids become the fewest ranges, and receipts split past the range limit and decode", () => {
  expect(idRanges([5, 3, 4, 9, 9, 1])).toEqual([[1, 1], [3, 5], [9, 9]]);
  expect(idRanges([])).toEqual([]);
  const odd = Array.from({ length: MAX_RECEIPT_RANGES + 3 }, (_, i) => 2 * i + 1);
  const receipts = receiptsFor(odd, 10);
  expect(receipts.map((r) => r.ob.length)).toEqual([MAX_RECEIPT_RANGES, 3]);
  for (const receipt of receipts) expect(decodeTopic("receipts", Buffer.from(JSON.stringify(receipt)))).toEqual({ ok: true, value: receipt });
  expect(decodeTopic("receipts", Buffer.from(JSON.stringify({ ob: [[4, 2]], ts: 1 }))).ok).toBe(false);
  expect(decodeTopic("receipts", Buffer.from(JSON.stringify({ ob: [], ts: 1 }))).ok).toBe(false);
});

test("hub/features is read leniently: a feature a newer hub adds does not make it unreadable", () => {
  expect(decodeTopic("hub/features", Buffer.from(JSON.stringify({ receipts: true, ts: 1, later: { x: 1 } })))).toMatchObject({ ok: true, value: { receipts: true } });
  expect(decodeTopic("hub/features", Buffer.from(JSON.stringify({ receipts: "yes", ts: 1 }))).ok).toBe(false);
});
