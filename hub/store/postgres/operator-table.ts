// Operators (named admin and viewer tokens) in PostgreSQL, by id, with their
// scrypt verifier only (OperatorWrites in ../hub-store.ts says what each
// method promises; the SQLite twin is ../sqlite/operator-table.ts). Two hubs
// adding one name at once: the partial unique index lets one in.
import type { OperatorRecord, OperatorWrites } from "../hub-store.ts";
import { OPERATOR_COLUMNS, operatorOf, type OperatorRow } from "../rows/operator-rows.ts";
import type { Db } from "./connection.ts";

export class PostgresOperatorTable implements OperatorWrites {
  constructor(private readonly db: Db) {}

  private columns() {
    return this.db.unsafe(OPERATOR_COLUMNS);
  }

  async get(id: string): Promise<OperatorRecord | undefined> {
    const [row] = await this.db<OperatorRow[]>`SELECT ${this.columns()} FROM operators WHERE id = ${id}`;
    return row && operatorOf(row);
  }

  async list(): Promise<OperatorRecord[]> {
    const rows = await this.db<OperatorRow[]>`SELECT ${this.columns()} FROM operators ORDER BY created_at, id COLLATE "C"`;
    return rows.map(operatorOf);
  }

  async activeByName(name: string): Promise<OperatorRecord | undefined> {
    const [row] = await this.db<OperatorRow[]>`SELECT ${this.columns()} FROM operators WHERE name = ${name} AND revoked_at IS NULL`;
    return row && operatorOf(row);
  }

  async add(o: OperatorRecord): Promise<void> {
    await this.db`INSERT INTO operators (id, name, role, verifier, created_at, created_by, rotated_at, revoked_at)
                  VALUES (${o.id}, ${o.name}, ${o.role}, ${o.verifier}, ${o.createdAt}, ${o.createdBy}, ${o.rotatedAt}, ${o.revokedAt})`;
  }

  async revoke(id: string, at: number): Promise<boolean> {
    return (await this.db`UPDATE operators SET revoked_at = ${at} WHERE id = ${id} AND revoked_at IS NULL`).count > 0;
  }

  async rotate(id: string, verifier: string, at: number): Promise<boolean> {
    return (await this.db`UPDATE operators SET verifier = ${verifier}, rotated_at = ${at} WHERE id = ${id} AND revoked_at IS NULL`).count > 0;
  }
}
