// Operators (named admin and viewer tokens) in SQLite, by id, with their
// scrypt verifier only (OperatorWrites in ../hub-store.ts says what each
// method promises; hub/identity/operators.ts makes the tokens).
import type { SqliteDatabase } from "../../../lib/sqlite.ts";
import type { OperatorRecord, OperatorWrites } from "../hub-store.ts";
import { OPERATOR_COLUMNS, operatorOf, type OperatorRow } from "../rows/operator-rows.ts";

/** Each method does its work when called: SQLite answers at once, the promise only carries the result. */
export class SqliteOperatorTable implements OperatorWrites {
  private readonly selectOne;
  private readonly selectAll;
  private readonly selectActiveByName;
  private readonly insert;
  private readonly revokeOne;
  private readonly rotateOne;

  constructor(db: SqliteDatabase) {
    this.selectOne = db.prepare(`SELECT ${OPERATOR_COLUMNS} FROM operators WHERE id = ?`);
    this.selectAll = db.prepare(`SELECT ${OPERATOR_COLUMNS} FROM operators ORDER BY created_at, id`);
    this.selectActiveByName = db.prepare(`SELECT ${OPERATOR_COLUMNS} FROM operators WHERE name = ? AND revoked_at IS NULL`);
    this.insert = db.prepare(`INSERT INTO operators (${OPERATOR_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`);
    this.revokeOne = db.prepare("UPDATE operators SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL");
    this.rotateOne = db.prepare("UPDATE operators SET verifier = ?, rotated_at = ? WHERE id = ? AND revoked_at IS NULL");
  }

  async get(id: string): Promise<OperatorRecord | undefined> {
    const row = this.selectOne.get<OperatorRow>(id);
    return row && operatorOf(row);
  }

  async list(): Promise<OperatorRecord[]> {
    return this.selectAll.all<OperatorRow>().map(operatorOf);
  }

  async activeByName(name: string): Promise<OperatorRecord | undefined> {
    const row = this.selectActiveByName.get<OperatorRow>(name);
    return row && operatorOf(row);
  }

  async add(o: OperatorRecord): Promise<void> {
    this.insert.run(o.id, o.name, o.role, o.verifier, o.createdAt, o.createdBy, o.rotatedAt, o.revokedAt);
  }

  async revoke(id: string, at: number): Promise<boolean> {
    return this.revokeOne.run(at, id).changes > 0;
  }

  async rotate(id: string, verifier: string, at: number): Promise<boolean> {
    return this.rotateOne.run(verifier, at, id).changes > 0;
  }
}
