// Work packages in SQLite (WorkWrites in ../hub-store.ts says what each
// method promises). transition() reads the package, checks the change
// against the state machine and the fencing number, and writes the package,
// its attempt and one history row; SQLite runs it all at once, inside the
// caller's transaction, so nothing interleaves.
import type { SqliteDatabase } from "../../../lib/sqlite.ts";
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
import { packageOf, type PackageRow } from "../rows/work-rows.ts";

/** Each method does its work when called: SQLite answers at once, the promise only carries the result. */
export class SqliteWorkTable implements WorkWrites {
  private readonly insert;
  private readonly selectById;
  private readonly selectByKey;
  private readonly selectGroup;
  private readonly selectList;
  private readonly selectActive;
  private readonly selectCounts;
  private readonly selectActiveCount;
  private readonly update;
  private readonly insertAttempt;
  private readonly endAttempt;
  private readonly selectAttempts;
  private readonly insertEvent;
  private readonly selectEvents;

  constructor(db: SqliteDatabase) {
    this.insert = db.prepare(
      `INSERT INTO work_packages (id, kind, payload, requires, target, strategy, group_id, deadline_at, lease_ms, max_attempts,
                                  idempotency_key, created_at, state, updated_at)
       VALUES ($id, $kind, $payload, $requires, $target, $strategy, $group, $deadlineAt, $leaseMs, $maxAttempts,
               $idempotencyKey, $createdAt, 'queued', $createdAt)`,
    );
    this.selectById = db.prepare("SELECT * FROM work_packages WHERE id = ?");
    this.selectByKey = db.prepare("SELECT * FROM work_packages WHERE idempotency_key = ?");
    this.selectGroup = db.prepare("SELECT * FROM work_packages WHERE group_id = ? ORDER BY seq");
    this.selectList = db.prepare(
      `SELECT * FROM work_packages
       WHERE ($beforeSeq IS NULL OR seq < $beforeSeq) AND ($state IS NULL OR state = $state)
         AND ($kind IS NULL OR kind = $kind) AND ($node IS NULL OR node_id = $node)
       ORDER BY seq DESC LIMIT $limit`,
    );
    this.selectActive = db.prepare("SELECT * FROM work_packages WHERE state IN ('queued', 'leased', 'running') ORDER BY seq");
    this.selectCounts = db.prepare("SELECT state, count(*) AS n FROM work_packages GROUP BY state");
    this.selectActiveCount = db.prepare("SELECT count(*) AS n FROM work_packages WHERE state IN ('queued', 'leased', 'running')");
    this.update = db.prepare(
      `UPDATE work_packages SET state = $state, node_id = $node, attempt = $attempt, lease_expires_at = $leaseExpiresAt,
              progress = $progress, result = $result, error = $error, updated_at = $updatedAt WHERE id = $id`,
    );
    this.insertAttempt = db.prepare("INSERT INTO work_attempts (package_id, attempt, node_id, leased_at) VALUES (?, ?, ?, ?)");
    this.endAttempt = db.prepare(
      "UPDATE work_attempts SET ended_at = ?, outcome = ?, error = ? WHERE package_id = ? AND attempt = ? AND ended_at IS NULL",
    );
    this.selectAttempts = db.prepare(
      "SELECT attempt, node_id AS node, leased_at AS leasedAt, ended_at AS endedAt, outcome, error FROM work_attempts WHERE package_id = ? ORDER BY attempt",
    );
    this.insertEvent = db.prepare(
      "INSERT INTO work_events (package_id, at, from_state, to_state, attempt, node_id, cause) VALUES (?, ?, ?, ?, ?, ?, ?)",
    );
    this.selectEvents = db.prepare(
      `SELECT seq, at, from_state AS "from", to_state AS "to", attempt, node_id AS node, cause
       FROM work_events WHERE package_id = ? ORDER BY seq`,
    );
  }

  async add(pkg: NewWorkPackage): Promise<WorkPackage> {
    this.insert.run({ ...pkg, payload: JSON.stringify(pkg.payload), requires: JSON.stringify(pkg.requires) });
    this.insertEvent.run(pkg.id, pkg.createdAt, "queued", "queued", 0, null, "submitted");
    return this.read(pkg.id)!;
  }

  async get(id: string): Promise<WorkPackage | undefined> {
    return this.read(id);
  }

  async byIdempotencyKey(key: string): Promise<WorkPackage | undefined> {
    const row = this.selectByKey.get<PackageRow>(key);
    return row ? packageOf(row) : undefined;
  }

  async group(group: string): Promise<WorkPackage[]> {
    return this.selectGroup.all<PackageRow>(group).map(packageOf);
  }

  async list(query: WorkListQuery): Promise<WorkPackage[]> {
    const { limit, beforeSeq = null, state = null, kind = null, node = null } = query;
    return this.selectList.all<PackageRow>({ limit, beforeSeq, state, kind, node }).map(packageOf);
  }

  async active(): Promise<WorkPackage[]> {
    return this.selectActive.all<PackageRow>().map(packageOf);
  }

  async countByState(): Promise<Record<WorkState, number>> {
    const counts = Object.fromEntries(WORK_STATES.map((state) => [state, 0])) as Record<WorkState, number>;
    for (const row of this.selectCounts.all<{ state: WorkState; n: number }>()) counts[row.state] = row.n;
    return counts;
  }

  async activeCount(): Promise<number> {
    return this.selectActiveCount.get<{ n: number }>()!.n;
  }

  async attempts(id: string): Promise<WorkAttempt[]> {
    return this.selectAttempts.all<WorkAttempt>(id);
  }

  async events(id: string): Promise<WorkEvent[]> {
    return this.selectEvents.all<WorkEvent>(id);
  }

  async transition(id: string, change: WorkChange, at: number): Promise<TransitionOutcome> {
    const current = this.read(id);
    if (!current) return { ok: false, reason: "unknown", package: undefined };
    const fencedAttempt = "attempt" in change ? change.attempt : undefined;
    if (fencedAttempt !== undefined && fencedAttempt !== current.attempt) {
      this.recordRefusal(current, fencedAttempt, `refused (attempt ${fencedAttempt} is not the current ${current.attempt}): ${change.cause}`, at);
      return { ok: false, reason: "stale_attempt", package: current };
    }
    if (!transitionAllowed(current.state, change.to)) {
      if (fencedAttempt !== undefined) this.recordRefusal(current, fencedAttempt, `refused (${current.state} cannot become ${change.to}): ${change.cause}`, at);
      return { ok: false, reason: "wrong_state", package: current };
    }
    const next = appliedChange(current, change);
    if (change.to === "leased") this.insertAttempt.run(id, next.attempt, next.node!, at);
    const outcome = OUTCOME_OF[change.to];
    if (outcome && current.attempt > 0) {
      this.endAttempt.run(at, outcome, next.error, id, current.attempt);
    }
    this.update.run({
      id,
      state: next.state,
      node: next.node,
      attempt: next.attempt,
      leaseExpiresAt: next.leaseExpiresAt,
      progress: next.progress,
      result: next.result === null ? null : JSON.stringify(next.result),
      error: next.error,
      updatedAt: at,
    });
    this.insertEvent.run(id, at, current.state, next.state, next.attempt, next.node, change.cause);
    return { ok: true, package: { ...next, updatedAt: at } };
  }

  private recordRefusal(current: WorkPackage, attempt: number, cause: string, at: number): void {
    this.insertEvent.run(current.id, at, current.state, null, attempt, current.node, cause);
  }

  private read(id: string): WorkPackage | undefined {
    const row = this.selectById.get<PackageRow>(id);
    return row ? packageOf(row) : undefined;
  }
}
