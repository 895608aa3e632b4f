// Dashboard sessions in PostgreSQL, by the hash of their id (SessionWrites in
// ../hub-store.ts says what each method promises).
import type { SessionRecord, SessionWrites } from "../hub-store.ts";
import { sessionOf, type SessionRow } from "../rows/session-rows.ts";
import type { Db } from "./connection.ts";

export class PostgresSessionTable implements SessionWrites {
  constructor(private readonly db: Db) {}

  async get(idHash: string, now: number): Promise<SessionRecord | undefined> {
    const [row] = await this.db<SessionRow[]>`
      SELECT id_hash, role, operator, operator_id, csrf_token, created_at, expires_at FROM dashboard_sessions
      WHERE id_hash = ${idHash} AND expires_at > ${now}`;
    return row && sessionOf(row);
  }

  async add(session: SessionRecord): Promise<void> {
    await this.db`INSERT INTO dashboard_sessions (id_hash, role, operator, operator_id, csrf_token, created_at, expires_at)
                  VALUES (${session.idHash}, ${session.role}, ${session.operator}, ${session.operatorId}, ${session.csrfToken}, ${session.createdAt}, ${session.expiresAt})`;
  }

  async delete(idHash: string): Promise<boolean> {
    return (await this.db`DELETE FROM dashboard_sessions WHERE id_hash = ${idHash}`).count > 0;
  }

  async prune(now: number): Promise<number> {
    return (await this.db`DELETE FROM dashboard_sessions WHERE expires_at <= ${now}`).count;
  }

  async deleteForOperator(operatorId: string): Promise<number> {
    return (await this.db`DELETE FROM dashboard_sessions WHERE operator_id = ${operatorId}`).count;
  }
}
