// Dashboard sessions in SQLite, by the hash of their id (SessionWrites in
// ../hub-store.ts says what each method promises).
import type { SqliteDatabase } from "../../../lib/sqlite.ts";
import type { SessionRecord, SessionWrites } from "../hub-store.ts";
import { sessionOf, type SessionRow } from "../rows/session-rows.ts";

/** Each method does its work when called: SQLite answers at once, the promise only carries the result. */
export class SqliteSessionTable implements SessionWrites {
  private readonly selectOne;
  private readonly insert;
  private readonly deleteOne;
  private readonly deleteExpired;
  private readonly deleteOfOperator;

  constructor(db: SqliteDatabase) {
    this.selectOne = db.prepare("SELECT id_hash, role, operator, operator_id, csrf_token, created_at, expires_at FROM dashboard_sessions WHERE id_hash = ? AND expires_at > ?");
    this.insert = db.prepare("INSERT INTO dashboard_sessions (id_hash, role, operator, operator_id, csrf_token, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)");
    this.deleteOne = db.prepare("DELETE FROM dashboard_sessions WHERE id_hash = ?");
    this.deleteExpired = db.prepare("DELETE FROM dashboard_sessions WHERE expires_at <= ?");
    this.deleteOfOperator = db.prepare("DELETE FROM dashboard_sessions WHERE operator_id = ?");
  }

  async get(idHash: string, now: number): Promise<SessionRecord | undefined> {
    const row = this.selectOne.get<SessionRow>(idHash, now);
    return row && sessionOf(row);
  }

  async add(session: SessionRecord): Promise<void> {
    this.insert.run(session.idHash, session.role, session.operator, session.operatorId, session.csrfToken, session.createdAt, session.expiresAt);
  }

  async delete(idHash: string): Promise<boolean> {
    return this.deleteOne.run(idHash).changes > 0;
  }

  async prune(now: number): Promise<number> {
    return this.deleteExpired.run(now).changes;
  }

  async deleteForOperator(operatorId: string): Promise<number> {
    return this.deleteOfOperator.run(operatorId).changes;
  }
}
