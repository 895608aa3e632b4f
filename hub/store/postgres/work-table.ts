// Work packages in PostgreSQL (WorkWrites in ../hub-store.ts says what each
// method promises; the SQLite twin is ../sqlite/work-table.ts).
// transition() reads the package FOR UPDATE: two hubs changing one package
// at once take turns on its row lock, and the second sees what the first
// wrote (its state and fencing number) before checking its own change.
import type { WorkWrites } from "../hub-store.ts";
import { appliedChange, OUTCOME_OF } from "../work-change.ts";
import {
  transitionAllowed,
  WORK_STATES,
  type NewWorkPackage,
  type TransitionOutcome,
  type WorkAttempt,
  type WorkChange,
  type WorkEvent,
  type WorkListQuery,
  type WorkPackage,
  type WorkState,
} from "../../work/work-model.ts";
import type { Db } from "./connection.ts";
import { packageOf, type PackageRow } from "../rows/work-rows.ts";

const ACTIVE = ["queued", "leased", "running"];

export class PostgresWorkTable implements WorkWrites {
  constructor(private readonly db: Db) {}

  async add(pkg: NewWorkPackage): Promise<WorkPackage> {
    const [row] = await this.db<PackageRow[]>`
      INSERT INTO work_packages (id, kind, payload, requires, target, strategy, group_id, deadline_at, lease_ms, max_attempts,
                                 idempotency_key, created_at, state, updated_at)
      VALUES (${pkg.id}, ${pkg.kind}, ${JSON.stringify(pkg.payload)}, ${JSON.stringify(pkg.requires)}, ${pkg.target}, ${pkg.strategy},
              ${pkg.group}, ${pkg.deadlineAt}, ${pkg.leaseMs}, ${pkg.maxAttempts}, ${pkg.idempotencyKey}, ${pkg.createdAt}, 'queued', ${pkg.createdAt})
      RETURNING *`;
    await this.addEvent(pkg.id, pkg.createdAt, "queued", "queued", 0, null, "submitted");
    return packageOf(row!);
  }

  async get(id: string): Promise<WorkPackage | undefined> {
    const [row] = await this.db<PackageRow[]>`SELECT * FROM work_packages WHERE id = ${id}`;
    return row && packageOf(row);
  }

  async byIdempotencyKey(key: string): Promise<WorkPackage | undefined> {
    const [row] = await this.db<PackageRow[]>`SELECT * FROM work_packages WHERE idempotency_key = ${key}`;
    return row && packageOf(row);
  }

  async group(group: string): Promise<WorkPackage[]> {
    return (await this.db<PackageRow[]>`SELECT * FROM work_packages WHERE group_id = ${group} ORDER BY seq`).map(packageOf);
  }

  async list(query: WorkListQuery): Promise<WorkPackage[]> {
    const only = (column: string, value: string | number | null | undefined, operator = "=") =>
      value === undefined || value === null ? this.db`` : this.db`AND ${this.db(column)} ${this.db.unsafe(operator)} ${value}`;
    const rows = await this.db<PackageRow[]>`
      SELECT * FROM work_packages WHERE true
        ${only("seq", query.beforeSeq, "<")} ${only("state", query.state)} ${only("kind", query.kind)} ${only("node_id", query.node)}
      ORDER BY seq DESC LIMIT ${query.limit}`;
    return rows.map(packageOf);
  }

  async active(): Promise<WorkPackage[]> {
    return (await this.db<PackageRow[]>`SELECT * FROM work_packages WHERE state = ANY(${ACTIVE}::text[]) ORDER BY seq`).map(packageOf);
  }

  async countByState(): Promise<Record<WorkState, number>> {
    const counts = Object.fromEntries(WORK_STATES.map((state) => [state, 0])) as Record<WorkState, number>;
    for (const row of await this.db<{ state: WorkState; n: number }[]>`SELECT state, count(*) AS n FROM work_packages GROUP BY state`) {
      counts[row.state] = row.n;
    }
    return counts;
  }

  async activeCount(): Promise<number> {
    const [row] = await this.db<{ n: number }[]>`SELECT count(*) AS n FROM work_packages WHERE state = ANY(${ACTIVE}::text[])`;
    return row!.n;
  }

  async attempts(id: string): Promise<WorkAttempt[]> {
    const rows = await this.db<WorkAttempt[]>`
      SELECT attempt, node_id AS node, leased_at AS "leasedAt", ended_at AS "endedAt", outcome, error
      FROM work_attempts WHERE package_id = ${id} ORDER BY attempt`;
    return [...rows];
  }

  async events(id: string): Promise<WorkEvent[]> {
    const rows = await this.db<WorkEvent[]>`
      SELECT seq, at, from_state AS "from", to_state AS "to", attempt, node_id AS node, cause
      FROM work_events WHERE package_id = ${id} ORDER BY seq`;
    return [...rows];
  }

  async transition(id: string, change: WorkChange, at: number): Promise<TransitionOutcome> {
    const [row] = await this.db<PackageRow[]>`SELECT * FROM work_packages WHERE id = ${id} FOR UPDATE`;
    if (!row) return { ok: false, reason: "unknown", package: undefined };
    const current = packageOf(row);
    const fencedAttempt = "attempt" in change ? change.attempt : undefined;
    if (fencedAttempt !== undefined && fencedAttempt !== current.attempt) {
      const cause = `refused (attempt ${fencedAttempt} is not the current ${current.attempt}): ${change.cause}`;
      await this.addEvent(id, at, current.state, null, fencedAttempt, current.node, cause);
      return { ok: false, reason: "stale_attempt", package: current };
    }
    if (!transitionAllowed(current.state, change.to)) {
      if (fencedAttempt !== undefined) {
        await this.addEvent(id, at, current.state, null, fencedAttempt, current.node, `refused (${current.state} cannot become ${change.to}): ${change.cause}`);
      }
      return { ok: false, reason: "wrong_state", package: current };
    }
    const next = appliedChange(current, change);
    if (change.to === "leased") {
      await this.db`INSERT INTO work_attempts (package_id, attempt, node_id, leased_at) VALUES (${id}, ${next.attempt}, ${next.node!}, ${at})`;
    }
    const outcome = OUTCOME_OF[change.to];
    if (outcome && current.attempt > 0) {
      await this.db`UPDATE work_attempts SET ended_at = ${at}, outcome = ${outcome}, error = ${next.error}
                    WHERE package_id = ${id} AND attempt = ${current.attempt} AND ended_at IS NULL`;
    }
    await this.db`
      UPDATE work_packages SET state = ${next.state}, node_id = ${next.node}, attempt = ${next.attempt}, lease_expires_at = ${next.leaseExpiresAt},
             progress = ${next.progress}, result = ${next.result === null ? null : JSON.stringify(next.result)}, error = ${next.error}, updated_at = ${at}
      WHERE id = ${id}`;
    await this.addEvent(id, at, current.state, next.state, next.attempt, next.node, change.cause);
    return { ok: true, package: { ...next, updatedAt: at } };
  }

  private async addEvent(id: string, at: number, from: WorkState, to: WorkState | null, attempt: number, node: string | null, cause: string): Promise<void> {
    await this.db`INSERT INTO work_events (package_id, at, from_state, to_state, attempt, node_id, cause)
                  VALUES (${id}, ${at}, ${from}, ${to}, ${attempt}, ${node}, ${cause})`;
  }
}
