// Tests for GroupCommit (group-commit.ts) on a real SQLite file: writes of one
// event-loop turn share a transaction, a throwing write fails alone, and a
// promise resolves only once its write is committed and visible to others.
import { afterEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { openDatabase, type SqliteDatabase } from "../../../lib/sqlite.ts";
import { cleanUp, closeLater, tempDir } from "../../../test/helpers.ts";
import { GroupCommit } from "./group-commit.ts";

function open(path: string): SqliteDatabase {
  return closeLater(openDatabase(path));
}

afterEach(cleanUp);

function freshDb(): { path: string; db: SqliteDatabase } {
  const path = join(tempDir(), "group.sqlite");
  const db = open(path);
  db.exec("CREATE TABLE items (n INTEGER PRIMARY KEY, label TEXT NOT NULL)");
  return { path, db };
}

/** Row numbers as another connection sees them. */
function committedRows(path: string): number[] {
  const other = open(path);
  const rows = other.prepare("SELECT n FROM items ORDER BY n").all<{ n: number }>().map((r) => r.n);
  other.close();
  return rows;
}

describe("GroupCommit", () => {
  test("100 writes of one turn all commit and resolve with their results", async () => {
    const { path, db } = freshDb();
    const group = new GroupCommit(db);
    const insert = db.prepare("INSERT INTO items (n, label) VALUES (?, ?)");
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => group.run(() => insert.run(i + 1, `item ${i + 1}`).changes * (i + 1))));
    expect(results).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    db.close();
    expect(committedRows(path)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
  });

  test("writes of one turn share one transaction: none is visible to another connection before the last has run", async () => {
    const { path, db } = freshDb();
    const group = new GroupCommit(db);
    const insert = db.prepare("INSERT INTO items (n, label) VALUES (?, ?)");
    const observer = open(path);
    const countSeen = observer.prepare("SELECT count(*) AS c FROM items");
    const seenByOthers: number[] = [];
    const write = (n: number) => {
      insert.run(n, "x");
      seenByOthers.push(countSeen.get<{ c: number }>()!.c);
    };
    // Every other work is async and awaits what answers at once, as the store's methods do.
    const writes = Array.from({ length: 100 }, (_, i) =>
      group.run(i % 2 === 0 ? () => write(i + 1) : async () => write(await Promise.resolve(i + 1))),
    );
    await Promise.all(writes);
    // Had any write committed on its own, a later one would have seen it.
    expect(seenByOthers).toEqual(new Array<number>(100).fill(0));
    expect(countSeen.get<{ c: number }>()!.c).toBe(100);
  });

  test("inside a batch a write runs in an open transaction", async () => {
    const { db } = freshDb();
    const group = new GroupCommit(db);
    // BEGIN inside an open transaction fails: the work sees the group's transaction.
    await expect(group.run(() => db.exec("BEGIN"))).rejects.toThrow(/within a transaction/);
  });

  test("writes of different turns are different batches", async () => {
    const { path, db } = freshDb();
    const group = new GroupCommit(db);
    const insert = db.prepare("INSERT INTO items (n, label) VALUES (?, ?)");
    await group.run(() => insert.run(1, "first"));
    // The first batch is committed before the second is even queued.
    expect(committedRows(path)).toEqual([1]);
    await group.run(() => insert.run(2, "second"));
    expect(committedRows(path)).toEqual([1, 2]);
  });

  test("a write that throws rejects alone, its partial changes undone; the rest of the batch commits", async () => {
    const { path, db } = freshDb();
    const group = new GroupCommit(db);
    const insert = db.prepare("INSERT INTO items (n, label) VALUES (?, ?)");
    const failure = new Error("write 50 fails after inserting");
    const writes = Array.from({ length: 100 }, (_, i) =>
      group.run(() => {
        const n = i + 1;
        insert.run(n, `item ${n}`);
        if (n === 50) {
          insert.run(1000, "partial change of the failing write");
          throw failure;
        }
        return n;
      }),
    );
    const settled = await Promise.allSettled(writes);
    settled.forEach((outcome, i) => {
      if (i === 49) expect(outcome).toEqual({ status: "rejected", reason: failure });
      else expect(outcome).toEqual({ status: "fulfilled", value: i + 1 });
    });
    db.close();
    const expected = Array.from({ length: 100 }, (_, i) => i + 1).filter((n) => n !== 50);
    expect(committedRows(path)).toEqual(expected);
  });

  test("a constraint violation rejects that write only", async () => {
    const { path, db } = freshDb();
    const group = new GroupCommit(db);
    const insert = db.prepare("INSERT INTO items (n, label) VALUES (?, ?)");
    const a = group.run(() => insert.run(1, "a"));
    const dup = group.run(() => insert.run(1, "duplicate"));
    const b = group.run(() => insert.run(2, "b"));
    const [ra, rdup, rb] = await Promise.allSettled([a, dup, b]);
    expect(ra).toEqual({ status: "fulfilled", value: { changes: 1, lastInsertRowid: 1 } });
    expect(rb).toEqual({ status: "fulfilled", value: { changes: 1, lastInsertRowid: 2 } });
    expect(rdup.status).toBe("rejected");
    expect(String((rdup as PromiseRejectedResult).reason)).toMatch(/UNIQUE constraint failed: items\.n/);
    db.close();
    const other = open(path);
    expect(other.prepare("SELECT n, label FROM items ORDER BY n").all()).toEqual([
      { n: 1, label: "a" },
      { n: 2, label: "b" },
    ]);
  });

  test("a result resolves only after commit: another connection sees the row in .then", async () => {
    const { path, db } = freshDb();
    const group = new GroupCommit(db);
    const insert = db.prepare("INSERT INTO items (n, label) VALUES (?, ?)");
    const seen = await group
      .run(() => insert.run(7, "seven"))
      .then(() => {
        const other = open(path);
        const row = other.prepare("SELECT n, label FROM items WHERE n = 7").get();
        other.close();
        return row;
      });
    expect(seen).toEqual({ n: 7, label: "seven" });
  });

  test("every promise of a batch resolves after the whole batch committed", async () => {
    const { path, db } = freshDb();
    const group = new GroupCommit(db);
    const insert = db.prepare("INSERT INTO items (n, label) VALUES (?, ?)");
    const observer = open(path);
    const countSeen = observer.prepare("SELECT count(*) AS c FROM items");
    const seenAtResolve = await Promise.all(
      Array.from({ length: 10 }, (_, i) => group.run(() => insert.run(i + 1, "x")).then(() => countSeen.get<{ c: number }>()!.c)),
    );
    // The first promise to resolve already sees all ten rows.
    expect(seenAtResolve).toEqual(new Array<number>(10).fill(10));
  });

  test("a write sees what an earlier write of the same batch wrote", async () => {
    const { db } = freshDb();
    const group = new GroupCommit(db);
    const insert = db.prepare("INSERT INTO items (n, label) VALUES (?, ?)");
    const read = db.prepare("SELECT label FROM items WHERE n = ?");
    const first = group.run(() => insert.run(1, "written by the first write"));
    const second = group.run(() => read.get<{ label: string }>(1)?.label ?? null);
    await first;
    expect(await second).toBe("written by the first write");
  });

  test("a write does not see what a failed earlier write of the same batch wrote", async () => {
    const { db } = freshDb();
    const group = new GroupCommit(db);
    const insert = db.prepare("INSERT INTO items (n, label) VALUES (?, ?)");
    const read = db.prepare("SELECT count(*) AS c FROM items");
    const failed = group.run(() => {
      insert.run(1, "rolled back");
      throw new Error("no");
    });
    const after = group.run(() => read.get<{ c: number }>()!.c);
    await expect(failed).rejects.toThrow("no");
    expect(await after).toBe(0);
  });

  test("a failed commit rejects every write of the batch and commits none", async () => {
    const { path, db } = freshDb();
    db.exec(`CREATE TABLE parents (id INTEGER PRIMARY KEY);
             CREATE TABLE children (id INTEGER PRIMARY KEY, parent INTEGER REFERENCES parents (id) DEFERRABLE INITIALLY DEFERRED)`);
    const group = new GroupCommit(db);
    const insert = db.prepare("INSERT INTO items (n, label) VALUES (?, ?)");
    // The deferred foreign key passes the write's savepoint and fails the COMMIT.
    const good = group.run(() => insert.run(1, "good"));
    const orphan = group.run(() => db.prepare("INSERT INTO children (id, parent) VALUES (1, 99)").run());
    const alsoGood = group.run(() => insert.run(2, "also good"));
    const settled = await Promise.allSettled([good, orphan, alsoGood]);
    expect(settled.map((s) => s.status)).toEqual(["rejected", "rejected", "rejected"]);
    for (const s of settled) expect(String((s as PromiseRejectedResult).reason)).toMatch(/FOREIGN KEY constraint failed/);
    expect(committedRows(path)).toEqual([]);
    // The connection is usable again afterwards.
    await group.run(() => insert.run(3, "next batch"));
    expect(committedRows(path)).toEqual([3]);
  });

  test("a write queued from inside a batch runs in a later batch", async () => {
    const { db } = freshDb();
    const group = new GroupCommit(db);
    const insert = db.prepare("INSERT INTO items (n, label) VALUES (?, ?)");
    let inner: Promise<unknown> | undefined;
    await group.run(() => {
      insert.run(1, "outer");
      inner = group.run(() => insert.run(2, "inner"));
    });
    await inner;
    expect(db.prepare("SELECT n FROM items ORDER BY n").all()).toEqual([{ n: 1 }, { n: 2 }]);
  });
});

describe("GroupCommit with async work", () => {
  test("work that waits on something else (a timer) is rolled back and rejected; the rest of the batch commits", async () => {
    const { path, db } = freshDb();
    const group = new GroupCommit(db);
    const insert = db.prepare("INSERT INTO items (n, label) VALUES (?, ?)");
    const before = group.run(() => insert.run(1, "before"));
    const waits = group.run(async () => {
      insert.run(2, "written, then the work waits for a timer");
      await new Promise((resolve) => setTimeout(resolve, 5));
      insert.run(3, "after the wait");
    });
    const after = group.run(() => insert.run(4, "after"));
    await expect(waits).rejects.toThrow(/awaited something other than the store/);
    await before;
    await after;
    expect(committedRows(path)).toEqual([1, 4]);
  });

  test("a write queued while an async batch runs waits for the next batch", async () => {
    const { db } = freshDb();
    const group = new GroupCommit(db);
    const insert = db.prepare("INSERT INTO items (n, label) VALUES (?, ?)");
    let inner: Promise<unknown> | undefined;
    await group.run(async () => {
      await Promise.resolve();
      insert.run(1, "outer");
      inner = group.run(async () => insert.run(2, "inner"));
    });
    await inner;
    expect(db.prepare("SELECT n FROM items ORDER BY n").all()).toEqual([{ n: 1 }, { n: 2 }]);
  });
});
