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
  expect(awaiting.stats(now)).toEqual({ awaiting: 1, oldestAgeMs: 1000, resends: 4, receiptMs: null, timeoutMs: 100 });
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
  ], T0 + 200);
  expect(removed.sort((a, b) => a - b)).toEqual([1, 3, 5, 9]);
  expect(awaiting.due(T0 + 200)).toEqual([4]);
  expect(awaiting.room()).toBe(4);
  awaiting.forget([4]);
  expect(awaiting.nextDueAt()).toBeNull();
  expect(awaiting.stats(T0 + 200)).toMatchObject({ awaiting: 0, oldestAgeMs: 0, resends: 0 });
});

test("after startOver (a new connection), sending an id sent before counts as a resend, a new id does not", () => {
  const awaiting = new AwaitingReceipts({ timeoutMs: 100, maxTimeoutMs: 100, maxInFlight: 10 });
  awaiting.sent(1, T0);
  awaiting.sent(2, T0);
  awaiting.receipted([[1, 1]], T0 + 5);
  awaiting.startOver();
  expect(awaiting.size).toBe(0);
  awaiting.sent(2, T0 + 50);
  awaiting.sent(3, T0 + 50);
  expect(awaiting.stats(T0 + 60)).toMatchObject({ awaiting: 2, oldestAgeMs: 10, resends: 1 });
});

test("a timing that makes no sense is refused", () => {
  expect(() => new AwaitingReceipts({ timeoutMs: 0, maxTimeoutMs: 10, maxInFlight: 1 })).toThrow(/receipt timing/);
  expect(() => new AwaitingReceipts({ timeoutMs: 10, maxTimeoutMs: 5, maxInFlight: 1 })).toThrow(/receipt timing/);
  expect(() => new AwaitingReceipts({ timeoutMs: 10, maxTimeoutMs: 10, maxInFlight: 0 })).toThrow(/receipt timing/);
});

test("jitter stretches or shrinks every timeout of a connection by one factor within 1 ± jitter, picked again on a new connection", () => {
  const draws = [0, 1, 0.5];
  const awaiting = new AwaitingReceipts({ timeoutMs: 100, maxTimeoutMs: 400, maxInFlight: 10, jitter: 0.2 }, () => draws.shift()!);
  awaiting.sent(2, T0);
  awaiting.sent(1, T0 + 5);
  expect(awaiting.nextDueAt()).toBe(T0 + 80); // factor 0.8, the same for both: still in id order once due
  expect(awaiting.due(T0 + 85)).toEqual([1, 2]);
  awaiting.resent(1, T0 + 85);
  expect(awaiting.due(T0 + 85 + 159)).toEqual([2]); // 2 x 100 x 0.8 = 160
  awaiting.startOver(); // factor 1.2
  awaiting.sent(3, T0);
  expect(awaiting.nextDueAt()).toBe(T0 + 120);
  awaiting.startOver(); // factor 1
  awaiting.sent(4, T0);
  expect(awaiting.nextDueAt()).toBe(T0 + 100);
  expect(() => new AwaitingReceipts({ timeoutMs: 10, maxTimeoutMs: 10, maxInFlight: 1, jitter: 1 })).toThrow(/jitter/);
});

test("the timeout follows how long receipts take (RFC 6298), never below timeoutMs nor above maxTimeoutMs; a resent event is not measured", () => {
  const awaiting = new AwaitingReceipts({ timeoutMs: 100, maxTimeoutMs: 10_000, maxInFlight: 100 });
  // A hub 2 s behind: the first sample sets the smoothed time (2,000) and its variation (1,000).
  awaiting.sent(1, T0);
  awaiting.receipted([[1, 1]], T0 + 2_000);
  expect(awaiting.stats(T0 + 2_000)).toMatchObject({ receiptMs: 2000, timeoutMs: 6000 });
  awaiting.sent(2, T0 + 2_000);
  expect(awaiting.nextDueAt()).toBe(T0 + 8_000);
  // The same time again: the variation shrinks (3/4), so does the timeout.
  awaiting.receipted([[2, 2]], T0 + 4_000);
  expect(awaiting.stats(T0 + 4_000)).toMatchObject({ receiptMs: 2000, timeoutMs: 5000 });
  // An event sent again: its receipt may answer either send, so it is not a sample.
  awaiting.sent(3, T0);
  awaiting.resent(3, T0 + 5_000);
  awaiting.receipted([[3, 3]], T0 + 5_001);
  expect(awaiting.stats(T0 + 5_001)).toMatchObject({ receiptMs: 2000, timeoutMs: 5000 });
  // Receipts in milliseconds again: the timeout comes down to its least.
  for (let i = 0; i < 50; i++) {
    awaiting.sent(10 + i, T0 + 10_000);
    awaiting.receipted([[10 + i, 10 + i]], T0 + 10_002);
  }
  expect(awaiting.stats(T0 + 10_002)).toMatchObject({ timeoutMs: 100 });
  // A receipt time past the ceiling: the timeout stops at maxTimeoutMs.
  awaiting.sent(99, T0);
  awaiting.receipted([[99, 99]], T0 + 1_000_000);
  expect(awaiting.stats(T0 + 1_000_000)).toMatchObject({ timeoutMs: 10_000 });
});

test("while receipts time out the timeout doubles once per turn (however many batches it sends), and a receipt of an event sent once measures again (Karn's algorithm)", () => {
  const awaiting = new AwaitingReceipts({ timeoutMs: 100, maxTimeoutMs: 1_000, maxInFlight: 100 });
  awaiting.backOff(T0);
  awaiting.backOff(T0 + 50); // the same turn's next batch
  expect(awaiting.stats(T0 + 50)).toMatchObject({ timeoutMs: 200 });
  awaiting.backOff(T0 + 200);
  awaiting.backOff(T0 + 600);
  awaiting.backOff(T0 + 1_400);
  expect(awaiting.stats(T0 + 1_400)).toMatchObject({ timeoutMs: 1_000 }); // 1,600 capped
  awaiting.sent(1, T0 + 1_400); // a new event waits the backed-off timeout
  expect(awaiting.nextDueAt()).toBe(T0 + 2_400);
  awaiting.receipted([[1, 1]], T0 + 1_430); // sent once: a sample, the backoff ends
  expect(awaiting.stats(T0 + 1_430)).toMatchObject({ receiptMs: 30, timeoutMs: 100 });
});
