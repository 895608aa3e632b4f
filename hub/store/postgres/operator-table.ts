// Operators (named admin and viewer tokens) in PostgreSQL, by id, with their
// scrypt verifier only (OperatorWrites in ../hub-store.ts says what each
// method promises; the SQLite twin is ../sqlite/operator-table.ts). Two hubs
// adding one name at once: the partial unique index lets one in.
import type { OperatorRecord, OperatorWrites } from "../hub-store.ts";
import type { Db } from "./connection.ts";

interface OperatorRow {
  id: string;
  name: string;
  role: OperatorRecord["role"];
  verifier: string;
  created_at: number;
  created_by: string;
  rotated_at: number | null;
  revoked_at: number | null;
}

function fromRow(row: OperatorRow): OperatorRecord {
  return {
    id: row.id,
    name: row.name,
    role: row.role,
    verifier: row.verifier,
    createdAt: row.created_at,
    createdBy: row.created_by,
    rotatedAt: row.rotated_at,
    revokedAt: row.revoked_at,
  };
}

export class PostgresOperatorTable implements OperatorWrites {
  constructor(private readonly db: Db) {}

  private columns() {
    return this.db`id, name, role, verifier, created_at, created_by, rotated_at, revoked_at`;
  }

  async get(id: string): Promise<OperatorRecord | undefined> {
    const [row] = await this.db<OperatorRow[]>`SELECT ${this.columns()} FROM operators WHERE id = ${id}`;
    return row && fromRow(row);
  }

  async list(): Promise<OperatorRecord[]> {
    const rows = await this.db<OperatorRow[]>`SELECT ${this.columns()} FROM operators ORDER BY created_at, id COLLATE "C"`;
    return rows.map(fromRow);
  }

  async activeByName(name: string): Promise<OperatorRecord | undefined> {
    const [row] = await this.db<OperatorRow[]>`SELECT ${this.columns()} FROM operators WHERE name = ${name} AND revoked_at IS NULL`;
    return row && fromRow(row);
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
