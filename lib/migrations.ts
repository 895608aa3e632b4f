// Numbered schema migrations for a SQLite file. Step n takes a file from
// version n - 1 to n; the version is kept in PRAGMA user_version (0 for a new
// file). Each step commits in its own transaction together with its version,
// so a process killed during an upgrade leaves the file at the last whole
// step and the next open carries on from there. A file written by newer code
// is refused rather than misread.
//
// Steps are append-only: a released step never changes (files out there ran
// it); a change of layout is a new step at the end.
import type { SqliteDatabase } from "./sqlite.ts";

export interface Schema {
  /** What the file is, for messages: "agent store", "intent journal". */
  name: string;
  /** steps[n - 1] is the SQL that takes the file from version n - 1 to n. */
  steps: readonly string[];
}

export class SchemaTooNewError extends Error {
  override name = "SchemaTooNewError";
}

export function schemaVersion(db: SqliteDatabase): number {
  return db.prepare("PRAGMA user_version").get<{ user_version: number }>()?.user_version ?? 0;
}

/** Brings `db` to the schema's latest version; returns the version it had and the one it has now. */
export function migrate(db: SqliteDatabase, schema: Schema): { from: number; to: number } {
  const latest = schema.steps.length;
  const from = schemaVersion(db);
  for (;;) {
    // The version is read under the write lock, so two processes opening one
    // file at once cannot both run the same step.
    const done = db.transaction(() => {
      const version = schemaVersion(db);
      if (version > latest) {
        throw new SchemaTooNewError(
          `${db.path}: ${schema.name} schema ${version} is newer than this build understands (${latest}); ` +
            `a newer release wrote it: run that release or a later one (going back past a schema change is not supported)`,
        );
      }
      if (version === latest) return true;
      db.exec(schema.steps[version]!);
      db.exec(`PRAGMA user_version = ${version + 1}`);
      return false;
    });
    if (done) return { from, to: latest };
  }
}
