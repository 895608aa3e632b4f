// Tests for OrderedAcks (ordered-acks.ts): a PUBACK goes once its commit is
// done and every earlier one went; nothing goes after clear(); a failed
// commit is reported, unless its connection is already gone.
import { describe, expect, test } from "bun:test";
import { OrderedAcks } from "./ordered-acks.ts";

function setUp() {
  const sent: number[] = [];
  const failures: string[] = [];
  const acks = new OrderedAcks(
    (messageId) => sent.push(messageId),
    (error) => failures.push(error.message),
  );
  return { acks, sent, failures };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

describe("OrderedAcks", () => {
  test("without a commit to wait for, a PUBACK goes at once", () => {
    const { acks, sent } = setUp();
    acks.add(1);
    acks.add(2);
    expect(sent).toEqual([1, 2]);
    expect(acks.pending).toBe(0);
  });

  test("PUBACKs go in arrival order, each once its commit is done", async () => {
    const { acks, sent } = setUp();
    const first = Promise.withResolvers<void>();
    const second = Promise.withResolvers<void>();
    acks.add(1, first.promise);
    acks.add(2, second.promise);
    acks.add(3); // needs no commit, but comes after 1 and 2
    second.resolve();
    await settle();
    expect(sent).toEqual([]);
    first.resolve();
    await settle();
    expect(sent).toEqual([1, 2, 3]);
    expect(acks.pending).toBe(0);
  });

  test("one commit for many messages sends all their PUBACKs", async () => {
    const { acks, sent } = setUp();
    const commit = Promise.withResolvers<void>();
    for (let id = 1; id <= 100; id++) acks.add(id, commit.promise);
    commit.resolve();
    await settle();
    expect(sent).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
  });

  test("after clear() (connection lost) nothing queued before is sent, and later ones are not held up", async () => {
    const { acks, sent } = setUp();
    const commit = Promise.withResolvers<void>();
    acks.add(1, commit.promise);
    acks.clear();
    acks.add(7);
    commit.resolve();
    await settle();
    expect(sent).toEqual([7]);
  });

  test("a failed commit is reported and its PUBACK, and those after it, never go", async () => {
    const { acks, sent, failures } = setUp();
    const commit = Promise.withResolvers<void>();
    acks.add(1, commit.promise);
    acks.add(2);
    commit.reject(new Error("disk I/O error"));
    await settle();
    expect(failures).toEqual(["disk I/O error"]);
    expect(sent).toEqual([]);
  });

  test("a commit failing after its connection was lost is not reported (the broker redelivers anyway)", async () => {
    const { acks, failures } = setUp();
    const commit = Promise.withResolvers<void>();
    acks.add(1, commit.promise);
    acks.clear();
    commit.reject(new Error("disk I/O error"));
    await settle();
    expect(failures).toEqual([]);
  });
});
