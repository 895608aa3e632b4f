// The migration runner on real SQLite files: steps in order from where a file
// is, each one whole or not at all, and a file from newer code refused.
import { afterEach, expect, test } from "bun:test";
import { join } from "node:path";
import { cleanUp, closeLater, tempDir } from "../test/helpers.ts";
import { migrate, SchemaTooNewError, schemaVersion, type Schema } from "./migrations.ts";
import { openDatabase } from "./sqlite.ts";

afterEach(cleanUp);

const SCHEMA: Schema = {
  name: "test file",
  steps: [
    "CREATE TABLE a (x INTEGER NOT NULL);",
    "ALTER TABLE a ADD COLUMN y TEXT; INSERT INTO a (x, y) VALUES (1, 'step 2');",
    "CREATE TABLE b (z TEXT); UPDATE a SET y = 'step 3';",
  ],
};

function open(path: string) {
  return closeLater(openDatabase(path));
}

test("a new file runs every step; an up-to-date file runs none", () => {
  const path = join(tempDir(), "m.sqlite");
  const db = open(path);
  expect(migrate(db, SCHEMA)).toEqual({ from: 0, to: 3 });
  expect(schemaVersion(db)).toBe(3);
  expect(db.prepare("SELECT x, y FROM a").all()).toEqual([{ x: 1, y: "step 3" }]);
  db.close();
  const again = open(path);
  expect(migrate(again, SCHEMA)).toEqual({ from: 3, to: 3 });
  expect(again.prepare("SELECT count(*) AS n FROM a").get<{ n: number }>()!.n).toBe(1); // step 2's insert ran once
});

test("a file part way runs only the steps after its version", () => {
  const db = open(join(tempDir(), "m.sqlite"));
  migrate(db, { ...SCHEMA, steps: SCHEMA.steps.slice(0, 1) });
  expect(schemaVersion(db)).toBe(1);
  expect(migrate(db, SCHEMA)).toEqual({ from: 1, to: 3 });
  expect(db.prepare("SELECT x, y FROM a").all()).toEqual([{ x: 1, y: "step 3" }]);
});

test("a failing step leaves the file at the last whole step, nothing of the failed one", () => {
  const db = open(join(tempDir(), "m.sqlite"));
  const broken: Schema = { ...SCHEMA, steps: [SCHEMA.steps[0]!, "ALTER TABLE a ADD COLUMN y TEXT; INSERT INTO nowhere VALUES (1);"] };
  expect(() => migrate(db, broken)).toThrow(/nowhere/);
  expect(schemaVersion(db)).toBe(1);
  expect(db.prepare("SELECT name FROM pragma_table_info('a')").all()).toEqual([{ name: "x" }]); // no column y
  expect(migrate(db, SCHEMA)).toEqual({ from: 1, to: 3 }); // the fixed release carries on from there
});

test("a file newer than the code is refused, naming the file and both versions, and left as it was", () => {
  const path = join(tempDir(), "m.sqlite");
  const db = open(path);
  migrate(db, SCHEMA);
  const older: Schema = { ...SCHEMA, steps: SCHEMA.steps.slice(0, 2) };
  expect(() => migrate(db, older)).toThrow(SchemaTooNewError);
  expect(() => migrate(db, older)).toThrow(`${path}: test file schema 3 is newer than this build understands (2)`);
  expect(schemaVersion(db)).toBe(3);
});
