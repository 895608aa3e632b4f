// Tests for the durable outbox (outbox.ts) on real SQLite files: order across
// enqueues and reopens, removal, the bound (oldest heartbeats first, never
// verdicts or acks), refused input, a model check over a long random run, and
// kill -9 of a child mid-enqueue.
import { afterEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import type { SqliteDatabase } from "../lib/sqlite.ts";
import { BUN, cleanUp, closeLater, killAfterLines as killAfterPrinted, REPO_ROOT, tempDir } from "../test/helpers.ts";
import { REPORT_HISTORY } from "../protocol/reports.ts";
import { deliveryOf, outboxCap } from "../protocol/topics.ts";
import { openAgentDatabase } from "./agent-schema.ts";
import { OUTBOX_KINDS, Outbox, outboxMessage, type NewOutboxMessage, type OutboxKind } from "./outbox.ts";

const CHILD = join(REPO_ROOT, "test/fixtures/outbox-child.ts");
const NODE = "edgefed/v1/nodes/pi-1";
const T0 = 1_760_000_000_000;

function open(path: string): SqliteDatabase {
  return closeLater(openAgentDatabase(path));
}

afterEach(cleanUp);

function dbPath(): string {
  return join(tempDir(), "agent.sqlite");
}

const TOPIC = Object.fromEntries(OUTBOX_KINDS.map((kind) => [kind, `${NODE}/${kind}`])) as Record<OutboxKind, string>;

/** Counts by kind: these, and 0 for every other outbox kind. */
function counts(some: Partial<Record<OutboxKind, number>>): Record<OutboxKind, number> {
  return { ...(Object.fromEntries(OUTBOX_KINDS.map((kind) => [kind, 0])) as Record<OutboxKind, number>), ...some };
}

/** A message of `kind` with the protocol's QoS and retain for it. */
function msg(kind: OutboxKind, payload: string, topic = TOPIC[kind]): NewOutboxMessage {
  return { topic, payload, ...deliveryOf(kind), kind, queuedAt: T0 };
}

/** Rows as the table holds them, read with a separate query. */
function tableIds(db: SqliteDatabase): number[] {
  return db.prepare("SELECT id FROM outbox ORDER BY id").all<{ id: number }>().map((r) => r.id);
}

function tableCount(db: SqliteDatabase): number {
  return db.prepare("SELECT count(*) AS n FROM outbox").get<{ n: number }>()!.n;
}

function tableByKind(db: SqliteDatabase): Record<OutboxKind, number> {
  const byKind = counts({});
  for (const { kind, n } of db.prepare("SELECT kind, count(*) AS n FROM outbox GROUP BY kind").all<{ kind: OutboxKind; n: number }>()) byKind[kind] = n;
  return byKind;
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe("Outbox order and durability", () => {
  test("ids follow enqueue order over 1,000 single and batched enqueues, and again after the database is reopened", () => {
    const path = dbPath();
    let db = open(path);
    let outbox = new Outbox(db, { maxMessages: 100_000 });
    const payloads: string[] = [];
    const returned: number[] = [];
    let n = 0;
    while (n < 1_000) {
      const size = 1 + (n % 7); // 1..7
      const batch = Array.from({ length: size }, () => {
        const kind = (["verdicts", "cmd/ack", "heartbeat"] as const)[n % 3]!;
        payloads.push(`p${n}`);
        return msg(kind, `p${n++}`);
      });
      returned.push(...outbox.enqueue(batch));
    }
    expect(returned).toEqual(range(1, n));
    expect(outbox.peek(n).map((m) => m.payload)).toEqual(payloads);

    db.close();
    db = open(path);
    outbox = new Outbox(db, { maxMessages: 100_000 });
    const all = outbox.peek(10_000);
    expect(all.map((m) => m.id)).toEqual(range(1, n));
    expect(all.map((m) => m.payload)).toEqual(payloads);
    expect(all[2]).toEqual({ id: 3, topic: TOPIC.heartbeat, payload: "p2", qos: 0, retain: false, kind: "heartbeat", queuedAt: T0 });
    expect(outbox.enqueue([msg("verdicts", "after reboot")])).toEqual([n + 1]);
  });

  test("outboxMessage gives a message the topic, QoS and retain flag the protocol gives its kind", () => {
    const heartbeat = { seq: 1, ts: T0, uptime_s: 1, load: [0, 0, 0] as [number, number, number], rss_bytes: 1, mode: "LIVE" as const, connectivity: "online" as const, simulated: false, outbox_depth: 0, kernel: { evaluated: 0, passed: 0, held: 0, duplicates: 0, recovered: 0 } };
    expect(outboxMessage("pi-1", "heartbeat", heartbeat, T0)).toEqual({ topic: TOPIC.heartbeat, payload: JSON.stringify(heartbeat), qos: 0, retain: false, kind: "heartbeat", queuedAt: T0 });
    const ack = { id: "d-1", ok: true, appliedAt: T0 };
    expect(outboxMessage("pi-1", "cmd/ack", ack, T0)).toEqual({ topic: TOPIC["cmd/ack"], payload: JSON.stringify(ack), qos: 1, retain: false, kind: "cmd/ack", queuedAt: T0 });
  });

  test("ids are never reused: emptying the outbox, even across a reopen, does not restart them", () => {
    const path = dbPath();
    let db = open(path);
    let outbox = new Outbox(db, { maxMessages: 10 });
    expect(outbox.enqueue([msg("verdicts", "a"), msg("verdicts", "b"), msg("cmd/ack", "c")])).toEqual([1, 2, 3]);
    outbox.removeThrough(3);
    expect(outbox.depth()).toBe(0);
    expect(outbox.enqueue([msg("verdicts", "d")])).toEqual([4]);
    outbox.remove([4]);
    db.close();
    db = open(path);
    outbox = new Outbox(db, { maxMessages: 10 });
    expect(outbox.depth()).toBe(0);
    expect(outbox.enqueue([msg("verdicts", "e")])).toEqual([5]);
  });

  test("peek returns the oldest first, honours limit and afterId", () => {
    const outbox = new Outbox(open(dbPath()), { maxMessages: 100 });
    outbox.enqueue(range(1, 10).map((i) => msg("verdicts", `v${i}`)));
    expect(outbox.peek(3).map((m) => m.id)).toEqual([1, 2, 3]);
    expect(outbox.peek(3, 3).map((m) => m.id)).toEqual([4, 5, 6]);
    expect(outbox.peek(100, 8).map((m) => m.payload)).toEqual(["v9", "v10"]);
    expect(outbox.peek(0)).toEqual([]);
    expect(outbox.peek(5, 10)).toEqual([]);
    expect(() => outbox.peek(-1)).toThrow(/limit/);
    expect(() => outbox.peek(1.5)).toThrow(/limit/);
  });

  test("removeThrough removes ids up to and including its argument; remove removes exactly the given ids", () => {
    const db = open(dbPath());
    const outbox = new Outbox(db, { maxMessages: 100 });
    outbox.enqueue([msg("verdicts", "1"), msg("cmd/ack", "2"), msg("heartbeat", "3"), msg("verdicts", "4"), msg("heartbeat", "5"), msg("cmd/ack", "6"), msg("verdicts", "7")]);
    outbox.removeThrough(3);
    expect(tableIds(db)).toEqual([4, 5, 6, 7]);
    expect(outbox.stats().byKind).toEqual(counts({ heartbeat: 1, verdicts: 2, "cmd/ack": 1 }));
    outbox.removeThrough(2); // already gone: nothing happens
    expect(tableIds(db)).toEqual([4, 5, 6, 7]);
    outbox.remove([5, 7, 99]); // 99 never existed
    expect(tableIds(db)).toEqual([4, 6]);
    expect(outbox.depth()).toBe(2);
    expect(outbox.stats().byKind).toEqual(counts({ heartbeat: 0, verdicts: 1, "cmd/ack": 1 }));
    outbox.remove([]);
    expect(tableIds(db)).toEqual([4, 6]);
    expect(() => outbox.remove([4, 2.5])).toThrow(/ids\[1\]/);
    expect(tableIds(db)).toEqual([4, 6]); // a bad id in the list removes nothing
    expect(() => outbox.removeThrough(Number.NaN)).toThrow(/integer/);
    outbox.removeThrough(1_000);
    expect(tableIds(db)).toEqual([]);
    expect(outbox.depth()).toBe(0);
  });

  test("removeRanges removes the ids of a receipt's inclusive ranges, counts exact; byIds reads the ones still queued, in id order", () => {
    const db = open(dbPath());
    const outbox = new Outbox(db, { maxMessages: 100 });
    outbox.enqueue(range(1, 10).map((i) => msg(i % 2 === 0 ? "cmd/ack" : "verdicts", `m${i}`)));
    outbox.removeRanges([
      [2, 4],
      [7, 7],
      [9, 50], // past the end: only what exists goes
    ]);
    expect(tableIds(db)).toEqual([1, 5, 6, 8]);
    expect(outbox.stats().byKind).toEqual(counts({ verdicts: 2, "cmd/ack": 2 }));
    outbox.removeRanges([[2, 4]]); // a receipt again: nothing happens
    expect(outbox.depth()).toBe(4);
    expect(() => outbox.removeRanges([[5, 5], [6, 6.5]])).toThrow(/ranges\[1\]\[1\]/);
    expect(tableIds(db)).toEqual([1, 5, 6, 8]); // a bad range removes nothing
    expect(outbox.byIds([8, 3, 1]).map((m) => [m.id, m.payload])).toEqual([
      [1, "m1"],
      [8, "m8"],
    ]);
    expect(outbox.byIds([])).toEqual([]);
  });

  test("depth and counts by kind after a reopen equal what the table holds", () => {
    const path = dbPath();
    let db = open(path);
    let outbox = new Outbox(db, { maxMessages: 1_000 });
    outbox.enqueue(range(1, 40).map((i) => msg(i % 4 === 0 ? "cmd/ack" : i % 3 === 0 ? "heartbeat" : "verdicts", `m${i}`)));
    outbox.remove([1, 2, 3, 12]);
    db.close();
    db = open(path);
    outbox = new Outbox(db, { maxMessages: 1_000 });
    expect(outbox.depth()).toBe(36);
    expect(outbox.depth()).toBe(tableCount(db));
    expect(outbox.stats()).toEqual({ depth: 36, droppedHeartbeats: 0, droppedOverCap: { portfolio: 0, health: 0 }, byKind: tableByKind(db) });
    expect(tableByKind(db)).toEqual(counts({ heartbeat: 9, verdicts: 18, "cmd/ack": 9 }));
  });
});

describe("Outbox bound", () => {
  test("drops the oldest heartbeats first, never verdicts or acks, and grows past the bound when only those remain", () => {
    const db = open(dbPath());
    const lines: string[] = [];
    const outbox = new Outbox(db, { maxMessages: 10, log: (line) => lines.push(line) });
    // ids 1..10: heartbeats at 1, 3, 5, 7, 8
    const kinds: OutboxKind[] = ["heartbeat", "verdicts", "heartbeat", "cmd/ack", "heartbeat", "verdicts", "heartbeat", "heartbeat", "verdicts", "cmd/ack"];
    expect(outbox.enqueue(kinds.map((k, i) => msg(k, `m${i + 1}`)))).toEqual(range(1, 10));
    expect(tableIds(db)).toEqual(range(1, 10)); // at the bound, not over: nothing dropped

    expect(outbox.enqueue([msg("verdicts", "m11"), msg("verdicts", "m12"), msg("verdicts", "m13")])).toEqual([11, 12, 13]);
    expect(tableIds(db)).toEqual([2, 4, 6, 7, 8, 9, 10, 11, 12, 13]);
    expect(outbox.stats().droppedHeartbeats).toBe(3);

    outbox.enqueue([msg("heartbeat", "m14"), msg("verdicts", "m15")]); // 12 queued: heartbeats 7 and 8 go, 14 stays
    expect(tableIds(db)).toEqual([2, 4, 6, 9, 10, 11, 12, 13, 14, 15]);
    outbox.enqueue([msg("cmd/ack", "m16")]); // the last heartbeat (14) goes
    expect(tableIds(db)).toEqual([2, 4, 6, 9, 10, 11, 12, 13, 15, 16]);
    expect(lines).toEqual([]);

    outbox.enqueue([msg("verdicts", "m17")]); // no heartbeat left: 11 messages, over the bound
    expect(tableIds(db)).toEqual([2, 4, 6, 9, 10, 11, 12, 13, 15, 16, 17]);
    outbox.enqueue([msg("cmd/ack", "m18")]);
    // a heartbeat queued while over the bound is the only one that can go: it goes at once
    expect(outbox.enqueue([msg("heartbeat", "m19")])).toEqual([19]);
    expect(tableIds(db)).toEqual([2, 4, 6, 9, 10, 11, 12, 13, 15, 16, 17, 18]);
    expect(outbox.stats()).toEqual({ depth: 12, droppedHeartbeats: 7, droppedOverCap: { portfolio: 0, health: 0 }, byKind: counts({ heartbeat: 0, verdicts: 8, "cmd/ack": 4 }) });
    expect(outbox.stats().byKind).toEqual(tableByKind(db));
    expect(lines.length).toBe(1);
    // (any other outbox kind is listed after these)
    expect(lines[0]).toStartWith(
      "outbox: 11 messages, over its bound of 10 with no heartbeat left to drop; it keeps growing rather than drop verdicts (8) or cmd/ack (3)",
    );
  });

  test("logs once per crossing of the bound, and once on getting back within it", () => {
    const lines: string[] = [];
    const outbox = new Outbox(open(dbPath()), { maxMessages: 5, log: (line) => lines.push(line) });
    outbox.enqueue(range(1, 5).map((i) => msg("verdicts", `v${i}`)));
    expect(lines).toEqual([]);
    for (let i = 6; i <= 20; i++) outbox.enqueue([msg(i % 2 ? "verdicts" : "cmd/ack", `v${i}`)]);
    expect(lines.length).toBe(1);
    expect(lines[0]).toStartWith("outbox: 6 messages, over its bound of 5");

    outbox.removeThrough(14); // 6 left: still over, no line
    expect(lines.length).toBe(1);
    outbox.removeThrough(15); // 5 left: within
    expect(lines).toEqual([lines[0]!, "outbox: 5 messages, back within its bound of 5"]);

    outbox.enqueue([msg("verdicts", "again")]); // second crossing
    outbox.enqueue([msg("verdicts", "again 2")]);
    expect(lines.length).toBe(3);
    expect(lines[2]).toStartWith("outbox: 6 messages, over its bound of 5");
  });

  test("heartbeats within the bound are all kept (the hub counts seq gaps)", () => {
    const db = open(dbPath());
    const outbox = new Outbox(db, { maxMessages: 50 });
    for (let seq = 1; seq <= 50; seq++) outbox.enqueue([msg("heartbeat", `{"seq":${seq}}`)]);
    expect(tableIds(db)).toEqual(range(1, 50));
    outbox.enqueue([msg("heartbeat", `{"seq":51}`)]);
    expect(outbox.peek(100).map((m) => m.payload)[0]).toBe(`{"seq":2}`);
    expect(outbox.depth()).toBe(50);
    expect(outbox.stats().droppedHeartbeats).toBe(1);
  });

  test("a database reopened over its bound trims heartbeats on the next enqueue and says it is over", () => {
    const path = dbPath();
    let db = open(path);
    new Outbox(db, { maxMessages: 100 }).enqueue([...range(1, 6).map((i) => msg("verdicts", `v${i}`)), msg("heartbeat", "h7"), msg("heartbeat", "h8")]);
    db.close();
    db = open(path);
    const lines: string[] = [];
    const outbox = new Outbox(db, { maxMessages: 4, log: (line) => lines.push(line) });
    expect(outbox.depth()).toBe(8);
    outbox.enqueue([msg("cmd/ack", "a9")]);
    expect(tableIds(db)).toEqual([1, 2, 3, 4, 5, 6, 9]);
    expect(outbox.stats().droppedHeartbeats).toBe(2);
    expect(lines.length).toBe(1);
  });
});

describe("Outbox caps of superseded kinds", () => {
  const PORTFOLIO_CAP = outboxCap("portfolio")!;

  test("the topic table caps portfolio and health at what the hub keeps; verdicts, acks and model reports have no cap", () => {
    expect(PORTFOLIO_CAP).toBe(REPORT_HISTORY.portfolio);
    expect(outboxCap("health")).toBe(REPORT_HISTORY.health);
    for (const kind of ["heartbeat", "verdicts", "cmd/ack", "models"] as const) expect(outboxCap(kind)).toBeNull();
  });

  test("past its cap the oldest portfolio snapshots go, in the enqueue's transaction, whatever the bound; other kinds stay", () => {
    const db = open(dbPath());
    const outbox = new Outbox(db, { maxMessages: 100_000 });
    outbox.enqueue([msg("verdicts", "v0"), msg("models", "m0")]);
    outbox.enqueue(range(1, PORTFOLIO_CAP).map((i) => msg("portfolio", `p${i}`)));
    expect(outbox.stats().byKind.portfolio).toBe(PORTFOLIO_CAP); // at the cap: nothing dropped
    outbox.enqueue([msg("portfolio", `p${PORTFOLIO_CAP + 1}`), msg("health", "h1"), msg("portfolio", `p${PORTFOLIO_CAP + 2}`)]);
    const queued = outbox.peek(10_000);
    const portfolio = queued.filter((m) => m.kind === "portfolio").map((m) => m.payload);
    expect(portfolio).toEqual(range(3, PORTFOLIO_CAP + 2).map((i) => `p${i}`)); // the newest, in order
    expect(queued.filter((m) => m.kind !== "portfolio").map((m) => m.payload)).toEqual(["v0", "m0", "h1"]);
    expect(outbox.stats()).toMatchObject({ depth: PORTFOLIO_CAP + 3, droppedHeartbeats: 0, droppedOverCap: { portfolio: 2, health: 0 } });
    expect(outbox.stats().byKind).toEqual(tableByKind(db));
  });

  test("a batch larger than the cap keeps only its newest; the cap holds across a reopen", () => {
    const path = dbPath();
    let db = open(path);
    const first = new Outbox(db, { maxMessages: 100_000 });
    const ids = first.enqueue(range(1, PORTFOLIO_CAP + 5).map((i) => msg("portfolio", `p${i}`)));
    expect(ids).toEqual(range(1, PORTFOLIO_CAP + 5));
    expect(tableIds(db)).toEqual(range(6, PORTFOLIO_CAP + 5));
    db.close();
    db = open(path);
    const again = new Outbox(db, { maxMessages: 100_000 });
    again.enqueue([msg("portfolio", "newest")]);
    expect(tableIds(db)).toEqual(range(7, PORTFOLIO_CAP + 6));
    expect(again.stats().droppedOverCap.portfolio).toBe(1);
  });

  test("over the bound, heartbeats still go first and capped kinds are not dropped below their cap for it", () => {
    const db = open(dbPath());
    const outbox = new Outbox(db, { maxMessages: 4, log: () => {} });
    outbox.enqueue([msg("heartbeat", "h1"), msg("portfolio", "p1"), msg("health", "s1"), msg("portfolio", "p2"), msg("heartbeat", "h2")]);
    expect(outbox.peek(10).map((m) => m.payload)).toEqual(["p1", "s1", "p2", "h2"]);
    outbox.enqueue([msg("portfolio", "p3")]);
    expect(outbox.peek(10).map((m) => m.payload)).toEqual(["p1", "s1", "p2", "p3"]);
    outbox.enqueue([msg("portfolio", "p4")]); // over the bound with no heartbeat left: kept, as verdicts are
    expect(outbox.peek(10).map((m) => m.payload)).toEqual(["p1", "s1", "p2", "p3", "p4"]);
  });
});

describe("Outbox input checks", () => {
  const good = msg("verdicts", "{}");
  const bad: [string, unknown, RegExp][] = [
    ["empty topic", { ...good, topic: "" }, /topic must be a non-empty string/],
    ["topic not a string", { ...good, topic: 42 }, /topic must be a non-empty string/],
    ["wildcard topic", { ...good, topic: `${NODE}/#` }, /must not contain \+, #/],
    ["payload object", { ...good, payload: { a: 1 } }, /payload must be a string/],
    ["payload missing", { ...good, payload: undefined }, /payload must be a string/],
    ["qos 2", { ...good, qos: 2 }, /qos must be 0 or 1, not 2/],
    ["qos as text", { ...good, qos: "1" }, /qos must be 0 or 1/],
    ["retain as number", { ...good, retain: 1 }, /retain must be a boolean/],
    ["unknown kind", { ...good, kind: "log" }, /kind must be one of heartbeat, verdicts, cmd\/ack(, [^,]+)*, not log$/],
    ["not an outbox kind", { ...good, kind: "state" }, /kind must be one of heartbeat, verdicts, cmd\/ack(, [^,]+)*, not state$/],
    ["a kind by its old name", { ...good, kind: "verdict" }, /kind must be one of heartbeat, verdicts, cmd\/ack(, [^,]+)*, not verdict$/],
    ["queuedAt NaN", { ...good, queuedAt: Number.NaN }, /queuedAt/],
    ["null message", null, /not an object/],
  ];
  for (const [name, message, error] of bad) {
    test(`${name}: throws and writes nothing, also when the good messages come first`, () => {
      const db = open(dbPath());
      const outbox = new Outbox(db, { maxMessages: 10 });
      expect(() => outbox.enqueue([good, good, message as NewOutboxMessage])).toThrow(error);
      expect(() => outbox.enqueue([good, good, message as NewOutboxMessage])).toThrow(/message 2 refused, nothing queued/);
      expect(tableCount(db)).toBe(0);
      expect(outbox.depth()).toBe(0);
      expect(outbox.enqueue([good])).toEqual([1]); // no id was spent either
    });
  }

  test("enqueue of nothing writes nothing; bad arguments and a bad bound are refused", () => {
    const db = open(dbPath());
    const outbox = new Outbox(db, { maxMessages: 10 });
    expect(outbox.enqueue([])).toEqual([]);
    expect(() => outbox.enqueue("x" as unknown as NewOutboxMessage[])).toThrow(/array/);
    expect(tableCount(db)).toBe(0);
    for (const maxMessages of [0, -1, 1.5, Number.POSITIVE_INFINITY]) {
      expect(() => new Outbox(db, { maxMessages })).toThrow(/maxMessages must be a positive integer/);
    }
  });
});

describe("Outbox against a reference model", () => {
  test("3,000 random operations with reopens: the table, the counts and the drops match a plain-array model", () => {
    const path = dbPath();
    const max = 40;
    let db = open(path);
    let outbox = new Outbox(db, { maxMessages: max, log: () => {} });
    let model: { id: number; kind: OutboxKind; topic: string; payload: string }[] = [];
    let nextId = 1;
    let dropped = 0;
    let seed = 12345;
    const random = (n: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed % n;
    };
    const pick = <T>(list: readonly T[]): T => list[random(list.length)]!;

    for (let step = 0; step < 3_000; step++) {
      const op = random(100);
      if (op < 70) {
        // weights: heartbeats and verdicts common
        const batch = Array.from({ length: 1 + random(5) }, () => {
          const kind = pick<OutboxKind>(["heartbeat", "heartbeat", "heartbeat", "verdicts", "verdicts", "cmd/ack"]);
          return msg(kind, `s${step}-${random(1000)}`);
        });
        const ids = outbox.enqueue(batch);
        for (const [i, m] of batch.entries()) {
          expect(ids[i]).toBe(nextId);
          model.push({ id: nextId++, kind: m.kind, topic: m.topic, payload: m.payload });
        }
        const excess = model.length - max;
        if (excess > 0) {
          const gone = new Set(model.filter((x) => x.kind === "heartbeat").slice(0, excess).map((x) => x.id));
          model = model.filter((x) => !gone.has(x.id));
          dropped += gone.size;
        }
      } else if (op < 85) {
        const through = model.length ? model[random(model.length)]!.id : nextId;
        outbox.removeThrough(through);
        model = model.filter((x) => x.id > through);
      } else if (op < 97) {
        const ids = model.filter(() => random(3) === 0).map((x) => x.id);
        outbox.remove([...ids, nextId + 5]);
        model = model.filter((x) => !ids.includes(x.id));
      } else {
        db.close();
        db = open(path);
        outbox = new Outbox(db, { maxMessages: max, log: () => {} });
        dropped = 0; // per process
      }
      const byKind = Object.fromEntries(OUTBOX_KINDS.map((k) => [k, model.filter((x) => x.kind === k).length]));
      expect(outbox.stats()).toEqual({ depth: model.length, droppedHeartbeats: dropped, droppedOverCap: { portfolio: 0, health: 0 }, byKind: byKind as Record<OutboxKind, number> });
      if (step % 50 === 0 || op >= 97) {
        expect(outbox.peek(10_000).map(({ id, kind, topic, payload }) => ({ id, kind, topic, payload }))).toEqual(model);
        expect(tableByKind(db)).toEqual(byKind as Record<OutboxKind, number>);
      }
    }
    expect(nextId).toBeGreaterThan(3_000); // the run did real work
  });
});

describe("Outbox across kill -9", () => {
  /** Runs the child until `enough` ids were printed, SIGKILLs it, and returns what it printed (acknowledged). */
  async function killAfterLines(path: string, firstN: number, enough: number): Promise<{ id: number; payload: string }[]> {
    const proc = Bun.spawn([BUN, CHILD, path, String(firstN)], { stdout: "pipe", stderr: "pipe" });
    const { lines, code } = await killAfterPrinted(proc, enough);
    if (lines.length < enough) throw new Error(`child ended early (${code}): ${await new Response(proc.stderr).text()}`);
    expect(proc.signalCode).toBe("SIGKILL");
    return lines.map((line) => {
      const [id, payload] = line.split(" ");
      return { id: Number(id), payload: payload! };
    });
  }

  test("every id printed after enqueue returned is there after the kill, in order, with no gaps; three kills in a row", async () => {
    const path = dbPath();
    const printed: { id: number; payload: string }[] = [];
    for (const [round, enough] of [300, 517, 211].entries()) {
      const lines = await killAfterLines(path, round * 1_000_000, enough);
      expect(lines.length).toBeGreaterThanOrEqual(enough);
      printed.push(...lines);

      const db = open(path); // as after a reboot
      const outbox = new Outbox(db, { maxMessages: 10_000_000 });
      const rows = outbox.peek(1_000_000);
      const byId = new Map(rows.map((m) => [m.id, m.payload]));
      for (const p of printed) expect(byId.get(p.id)).toBe(p.payload);
      // Printed ids (plus those committed unprinted before earlier kills) run 1, 2, 3, ... and the
      // table holds every one of them: nothing lost, nothing out of order, no gap.
      const last = printed.at(-1)!.id;
      expect(printed.map((p) => p.id)).toEqual(range(1, last));
      expect(rows.map((m) => m.id).slice(0, last)).toEqual(range(1, last));
      // at most the batch in flight (up to 4) committed unprinted after the last printed id
      expect(rows.at(-1)!.id - last).toBeLessThanOrEqual(4);
      expect(outbox.depth()).toBe(tableCount(db));
      // the next child continues after whatever was committed, printed or not
      printed.push(...rows.filter((m) => m.id > last).map((m) => ({ id: m.id, payload: m.payload })));
      db.close();
    }
    expect(printed.length).toBeGreaterThanOrEqual(300 + 517 + 211);
  });
});
