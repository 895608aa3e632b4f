// The SQLite driver seam: bun:sqlite under Bun, better-sqlite3 under Node.
// Nothing else in the project knows which driver runs. Both drivers get the
// same pragmas set explicitly, because their defaults differ.
import { closeSync, openSync } from "node:fs";
import { createRequire } from "node:module";

export interface SqliteStatement {
  run(...params: unknown[]): { changes: number; lastInsertRowid: number | bigint };
  /** The first row, or undefined (both drivers' "no row" normalised). */
  get<Row = Record<string, unknown>>(...params: unknown[]): Row | undefined;
  all<Row = Record<string, unknown>>(...params: unknown[]): Row[];
}

export interface SqliteDatabase {
  readonly path: string;
  exec(sql: string): void;
  prepare(sql: string): SqliteStatement;
  /** Runs `fn` in one transaction (BEGIN IMMEDIATE..COMMIT), rolled back if it throws. */
  transaction<T>(fn: () => T): T;
  close(): void;
}

export interface OpenOptions {
  /**
   * FULL (default): a commit is fsynced before it returns, so whatever was
   * acknowledged survives a power cut. NORMAL survives a process crash only.
   */
  synchronous?: "FULL" | "NORMAL";
}

const require = createRequire(import.meta.url);
const isBun = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined";

interface RawStatement {
  run(...p: unknown[]): { changes: number; lastInsertRowid: number | bigint };
  get(...p: unknown[]): unknown;
  all(...p: unknown[]): unknown[];
}
interface RawDatabase {
  exec(sql: string): void;
  prepare(sql: string): RawStatement;
  close(): void;
}

function openRaw(path: string): RawDatabase {
  if (isBun) {
    const { Database } = require("bun:sqlite");
    return new Database(path, { create: true, strict: true });
  }
  let BetterSqlite3: new (path: string) => RawDatabase;
  try {
    BetterSqlite3 = require("better-sqlite3");
  } catch {
    throw new Error("under Node edgefed stores data with better-sqlite3, which is not installed (npm install better-sqlite3@12)");
  }
  return new BetterSqlite3(path);
}

/** Opens (creating, owner-only) a SQLite database in WAL mode with explicit pragmas. */
export function openDatabase(path: string, options: OpenOptions = {}): SqliteDatabase {
  if (path !== ":memory:") closeSync(openSync(path, "a", 0o600)); // SQLite gives -wal and -shm the same mode
  const raw = openRaw(path);
  raw.exec(path === ":memory:" ? "PRAGMA journal_mode = MEMORY" : "PRAGMA journal_mode = WAL");
  raw.exec(`PRAGMA synchronous = ${options.synchronous ?? "FULL"}`);
  raw.exec("PRAGMA busy_timeout = 5000");
  raw.exec("PRAGMA foreign_keys = ON");
  raw.exec("PRAGMA temp_store = MEMORY");

  // Plain BEGIN/COMMIT rather than the drivers' transaction() wrappers: same
  // behaviour under both, and no wrapper allocated per call on the hot path.
  const begin = raw.prepare("BEGIN IMMEDIATE");
  const commit = raw.prepare("COMMIT");
  const rollback = raw.prepare("ROLLBACK");

  return {
    path,
    exec: (sql) => raw.exec(sql),
    prepare(sql) {
      const statement = raw.prepare(sql);
      return {
        run: (...params) => statement.run(...params),
        get: <Row>(...params: unknown[]) => (statement.get(...params) ?? undefined) as Row | undefined,
        all: <Row>(...params: unknown[]) => statement.all(...params) as Row[],
      };
    },
    transaction(fn) {
      begin.run();
      try {
        const result = fn();
        commit.run();
        return result;
      } catch (error) {
        try {
          rollback.run();
        } catch {
          // COMMIT itself may have ended the transaction; the first error is the one to report.
        }
        throw error;
      }
    },
    close: () => raw.close(),
  };
}
