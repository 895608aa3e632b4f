// Tests for the in-memory bookkeeping of events awaiting a receipt
// (awaiting-receipts.ts): when one falls due again (the timeout doubling per
// resend up to its ceiling), the bound, receipts of ranges, the resend count
// across a new connection, and the oldest one's age.
import { expect, test } from "bun:test";
import { AwaitingReceipts } from "./awaiting-receipts.ts";

const T0 = 1_760_000_000_000;

test("an event falls due after the timeout, then after twice, four times... up to the ceiling; resends are counted", () => {
  const awaiting = new AwaitingReceipts({ timeoutMs: 100, maxTimeoutMs: 350, maxInFlight: 10 });
  awaiting.sent(1, T0);
  expect(awaiting.due(T0 + 99)).toEqual([]);
  expect(awaiting.nextDueAt()).toBe(T0 + 100);
  const dueTimes: number[] = [];
  let now = T0;
  for (let i = 0; i < 4; i++) {
    now = awaiting.nextDueAt()!;
    expect(awaiting.due(now)).toEqual([1]);
    dueTimes.push(now - T0);
    awaiting.resent(1, now);
  }
  expect(dueTimes).toEqual([100, 300, 650, 1000]); // waits 100, 200, 350 (ceiling), 350
  expect(awaiting.stats(now)).toEqual({ awaiting: 1, oldestAgeMs: 1000, resends: 4 });
});

test("due ones come in id order; a receipt of ranges clears them; the bound leaves room for the rest", () => {
  const awaiting = new AwaitingReceipts({ timeoutMs: 100, maxTimeoutMs: 100, maxInFlight: 5 });
  for (const id of [3, 4, 5, 9]) awaiting.sent(id, T0);
  awaiting.sent(1, T0 + 10);
  expect(awaiting.room()).toBe(0);
  expect(awaiting.due(T0 + 200)).toEqual([1, 3, 4, 5, 9]);
  const removed = awaiting.receipted([
    [1, 3],
    [5, 1_000_000], // long ranges are matched against what is in flight
  ]);
  expect(removed.sort((a, b) => a - b)).toEqual([1, 3, 5, 9]);
  expect(awaiting.due(T0 + 200)).toEqual([4]);
  expect(awaiting.room()).toBe(4);
  awaiting.forget([4]);
  expect(awaiting.nextDueAt()).toBeNull();
  expect(awaiting.stats(T0 + 200)).toEqual({ awaiting: 0, oldestAgeMs: 0, resends: 0 });
});

test("after startOver (a new connection), sending an id sent before counts as a resend, a new id does not", () => {
  const awaiting = new AwaitingReceipts({ timeoutMs: 100, maxTimeoutMs: 100, maxInFlight: 10 });
  awaiting.sent(1, T0);
  awaiting.sent(2, T0);
  awaiting.receipted([[1, 1]]);
  awaiting.startOver();
  expect(awaiting.size).toBe(0);
  awaiting.sent(2, T0 + 50);
  awaiting.sent(3, T0 + 50);
  expect(awaiting.stats(T0 + 60)).toEqual({ awaiting: 2, oldestAgeMs: 10, resends: 1 });
});

test("a timing that makes no sense is refused", () => {
  expect(() => new AwaitingReceipts({ timeoutMs: 0, maxTimeoutMs: 10, maxInFlight: 1 })).toThrow(/receipt timing/);
  expect(() => new AwaitingReceipts({ timeoutMs: 10, maxTimeoutMs: 5, maxInFlight: 1 })).toThrow(/receipt timing/);
  expect(() => new AwaitingReceipts({ timeoutMs: 10, maxTimeoutMs: 10, maxInFlight: 0 })).toThrow(/receipt timing/);
});
