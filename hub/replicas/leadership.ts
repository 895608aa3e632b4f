// Which replica does the work only one may do at a time (issue 16): the
// duties of LEADER_DUTIES: the federation roles (the engine), the health
// sweep, the pending-decision alerts, the work scheduler's ticks, the
// webhook's outbox, and the takeover of a gone replica's broker session. On PostgreSQL the leader is whoever holds one session
// advisory lock (LEADER_LOCK); every replica tries for it about once a second
// on a connection of its own, and the one that gets it runs the duties until
// it stops or its connection goes. PostgreSQL frees a session's advisory locks
// when its connection closes, so a replica that dies (kill -9, a lost network)
// hands the duties over as soon as the server sees the connection gone; no
// election of our own. On SQLite there is one hub, always the leader.
//
// One lock for all the duties rather than one each: they feed each other (the
// sweep raises node alerts that the webhook posts; a finished work package
// acknowledges a decision the pending alerts look at), each is light, and one
// leader is one place to look when something is off. The price, all the
// duties on one replica, is small next to ingest, which all replicas share.
//
// The lock's connection is a one-connection client of its own, not one
// reserved from the registry's pool (`sql.reserve()`): release() would hand the
// session back to the pool with its locks still held, and the pool closes
// connections after a random 30-60 min (max_lifetime), which would drop the
// lock without a word. Here max_lifetime is off, and on any doubt (an error,
// no answer within TICK_TIMEOUT_MS, a different backend pid) the client is
// ended at once (PostgreSQL frees the lock), the duties stop, and it tries again.
// A leader learns it lost the lock at its next check: for up to one tick (and
// a check's timeout, TICK_TIMEOUT_MS) after the server dropped its
// connection, two replicas may both run a duty: the work scheduler's
// transitions take row locks; the webhook's new leader waits out that window
// and the post timeout, and delivery records are conditional; a
// pending-decision alert may be raised twice; two federation engines may both
// decide (a decision may be issued twice); a takeover of a gone replica's
// session under way goes on while the new leader may start one of the same
// session (the broker gives it to the last to connect; each message is
// committed before its PUBACK, so none is lost).
//
// The same connection holds a second lock, on this replica's id
// (EDGEFED_HUB_ID), for the replica's life: a second process started with the
// same id waits for it (the hub up to REPLICA_ID_WAIT_MS, 45 s: the leader
// may be emptying the broker session the id left), then refuses. The id goes on record in hub_replicas,
// for the leader to find when the replica dies (session-takeover.ts).
import postgres, { type Sql } from "postgres";
import { withTimeout } from "../../lib/with-timeout.ts";

/** The duties a leader runs (edgefed_replica_leader{duty}, /health's `leads`). */
export const LEADER_DUTIES = ["federation_roles", "health_sweep", "pending_decision_alerts", "work_scheduler", "alert_webhook", "replica_takeover"] as const;
export type LeaderDuty = (typeof LEADER_DUTIES)[number];

/** How often a replica tries for the lock, and checks it still holds it. */
export const LEADERSHIP_TICK_MS = 1000;
/** A check that gets no answer within this is taken as the connection lost. */
export const TICK_TIMEOUT_MS = 3000;

/**
 * The leader lock's name. A lock's bigint key is hashed by the server from
 * its name and the registry's schema (`name || current_schema()`): advisory
 * locks are database-wide, and registries in two schemas of one database (as
 * the tests have) must not share a leader.
 */
const LEADER_LOCK = "edgefed-hub:leader:";

/**
 * A leader's hold on the other replicas of a shared registry (their id locks
 * and hub_replicas), for emptying a gone one's broker session
 * (session-takeover.ts). Only advisory-lock leadership has it.
 */
export interface ReplicaLocks {
  /** The other replica ids on record (hub_replicas): those that ran on this registry and may have left a broker session. */
  otherReplicas(): Promise<string[]>;
  /** Whether replica `id`'s lock is free right now (its lock connection is gone; not proof its process is). */
  idFree(id: string): Promise<boolean>;
  /** Runs `work` holding a free id lock of replica `id`, then takes it off the record; whether `work` ran. */
  whileGone(id: string, work: () => Promise<void>): Promise<boolean>;
}

export interface Leadership {
  /** Whether this replica runs the leader's duties right now. */
  leads(): boolean;
  /** The duties this replica runs now (all of LEADER_DUTIES or none). */
  duties(): readonly LeaderDuty[];
  /** Calls `listener` each time this replica becomes (true) or stops being (false) the leader. */
  onChange(listener: (leading: boolean) => void): void;
  /** Stops trying; gives the lock up (the next replica takes it within a tick). */
  stop(): Promise<void>;
  /** The other replicas' id locks, on a shared registry; none for the sole hub. */
  readonly replicaLocks?: ReplicaLocks;
}

/** The single hub on SQLite: always the leader, nothing to lock. */
export class SoleLeadership implements Leadership {
  leads(): boolean {
    return true;
  }
  duties(): readonly LeaderDuty[] {
    return LEADER_DUTIES;
  }
  onChange(): void {}
  async stop(): Promise<void> {}
}

/** The hub's leadership: advisory locks on a registry replicas share (PostgreSQL), the sole hub's otherwise. */
export async function startLeadership(
  registry: { shared: boolean; databaseUrl: string; replicaId: string; idWaitMs: number },
  log: (line: string) => void,
): Promise<Leadership> {
  if (!registry.shared) return new SoleLeadership();
  return AdvisoryLockLeadership.start({ databaseUrl: registry.databaseUrl, replicaId: registry.replicaId, log, idWaitMs: registry.idWaitMs });
}

export interface AdvisoryLockLeadershipOptions {
  databaseUrl: string;
  /** This replica's id (EDGEFED_HUB_ID): its own lock is taken on the lock connection. */
  replicaId: string;
  log(line: string): void;
  tickMs?: number;
}

/** A one-connection client that keeps its session (and so its locks) until ended. */
export function connectLockSession(databaseUrl: string): Sql {
  return postgres(databaseUrl, { max: 1, max_lifetime: null, idle_timeout: 0, onnotice: () => {} });
}

/** The lock name of a replica id (hashed with the schema into a key, as LEADER_LOCK). */
export const replicaLockName = (replicaId: string): string => `edgefed-hub:replica:${replicaId}:`;

export class AdvisoryLockLeadership implements Leadership, ReplicaLocks {
  readonly replicaLocks: ReplicaLocks = this;
  private session: Sql | null = null;
  /** The backend pid the locks were taken on: another pid means a new session, without them. */
  private sessionPid: number | null = null;
  private leading = false;
  private stopped = false;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private ticking: Promise<void> | null = null;
  private readonly listeners: Array<(leading: boolean) => void> = [];

  private constructor(private readonly options: AdvisoryLockLeadershipOptions) {}

  /**
   * Takes this replica's id lock (waiting up to `idWaitMs` for a replica
   * still holding it, or the leader taking over its queued messages: the
   * hub waits session-takeover.ts REPLICA_ID_WAIT_MS), then starts trying
   * for the leader lock. Throws if the id stays held.
   */
  static async start(options: AdvisoryLockLeadershipOptions & { idWaitMs: number }): Promise<AdvisoryLockLeadership> {
    const leadership = new AdvisoryLockLeadership(options);
    await leadership.takeReplicaLock(options.idWaitMs);
    await leadership.tick();
    leadership.schedule();
    return leadership;
  }

  leads(): boolean {
    return this.leading;
  }

  duties(): readonly LeaderDuty[] {
    return this.leading ? LEADER_DUTIES : [];
  }

  onChange(listener: (leading: boolean) => void): void {
    this.listeners.push(listener);
  }

  /** The backend pid holding this replica's locks (tests close it to play a lost connection). */
  get backendPid(): number | null {
    return this.sessionPid;
  }

  async otherReplicas(): Promise<string[]> {
    if (!this.session) return [];
    const rows = await this.session<{ id: string }[]>`SELECT id FROM hub_replicas WHERE id <> ${this.options.replicaId} ORDER BY id`;
    return rows.map((row) => row.id);
  }

  async idFree(id: string): Promise<boolean> {
    const session = this.session;
    if (!session || !(await tryLock(session, replicaLockName(id)))) return false;
    await session`SELECT pg_advisory_unlock(${lockKey(session, replicaLockName(id))})`;
    return true;
  }

  /**
   * If replica `id`'s lock is free, holds its lock while
   * `work` runs (a replica starting with that id meanwhile waits), then takes
   * it off the record and frees the lock; resolves with whether `work` ran.
   * Only the leader calls this.
   */
  async whileGone(id: string, work: () => Promise<void>): Promise<boolean> {
    const session = this.session;
    if (!session) return false;
    if (!(await tryLock(session, replicaLockName(id)))) return false;
    try {
      await work();
      await session`DELETE FROM hub_replicas WHERE id = ${id}`;
    } finally {
      await session`SELECT pg_advisory_unlock(${lockKey(session, replicaLockName(id))})`.catch(() => {});
    }
    return true;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.ticking;
    this.setLeading(false);
    await this.dropSession();
  }

  private async takeReplicaLock(waitMs: number): Promise<void> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const session = await this.openSession();
      if (await tryLock(session, replicaLockName(this.options.replicaId))) {
        // On record for the leader: if this replica dies, its broker session is emptied by another (session-takeover.ts).
        await session`INSERT INTO hub_replicas (id, started_at) VALUES (${this.options.replicaId}, ${Date.now()})
          ON CONFLICT (id) DO UPDATE SET started_at = excluded.started_at`;
        return;
      }
      if (Date.now() >= deadline) {
        await this.dropSession();
        throw new Error(
          `another hub process holds replica id "${this.options.replicaId}" (EDGEFED_HUB_ID) on this registry; give each replica its own id, or stop the other one first`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  private async openSession(): Promise<Sql> {
    if (this.session) return this.session;
    const session = connectLockSession(this.options.databaseUrl);
    // A client whose first query failed is ended here: the next tick makes a new one.
    const [row] = await session<{ pid: number }[]>`SELECT pg_backend_pid() AS pid`.catch(async (error: Error) => {
      await session.end({ timeout: 0 }).catch(() => {});
      throw error;
    });
    this.session = session;
    this.sessionPid = row!.pid;
    return session;
  }

  /** The next tick, one at a time, until stopped. */
  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.ticking = this.tick().finally(() => {
        this.ticking = null;
        this.schedule();
      });
    }, this.options.tickMs ?? LEADERSHIP_TICK_MS);
    this.timer.unref?.();
  }

  /** Checks the session is the one holding the locks, and tries for the leader lock if not leading. */
  private async tick(): Promise<void> {
    try {
      if (!this.session) await this.takeReplicaLock(0);
      await withTimeout(this.check(), TICK_TIMEOUT_MS, "the lock connection");
    } catch (error) {
      if (this.leading) this.options.log(`leadership: lost the lock connection (${(error as Error).message}); the leader's duties stop here until it is taken again`);
      this.setLeading(false);
      // The id lock goes with the session: the next tick takes both again on a new one.
      await this.dropSession();
    }
  }

  private async check(): Promise<void> {
    if (!this.session) throw new Error("no lock connection");
    const pid = this.sessionPid;
    // Asked only while not leading: a session lock taken twice must be freed twice.
    const [row] = this.leading
      ? await this.session<{ pid: number; held: boolean }[]>`SELECT pg_backend_pid() AS pid, true AS held`
      : await this.session<{ pid: number; held: boolean }[]>`SELECT pg_backend_pid() AS pid, pg_try_advisory_lock(${lockKey(this.session, LEADER_LOCK)}) AS held`;
    if (row!.pid !== pid) throw new Error(`the lock connection was replaced (backend ${pid} -> ${row!.pid})`);
    if (row!.held && !this.leading) this.options.log(`leadership: this replica (${this.options.replicaId}) now leads: ${LEADER_DUTIES.join(", ")}`);
    this.setLeading(row!.held);
  }

  private setLeading(leading: boolean): void {
    if (leading === this.leading) return;
    this.leading = leading;
    for (const listener of this.listeners) listener(leading);
  }

  private async dropSession(): Promise<void> {
    const session = this.session;
    this.session = null;
    this.sessionPid = null;
    // timeout 0: no waiting on a connection that may be dead; closing it is what frees the locks.
    await session?.end({ timeout: 0 }).catch(() => {});
  }
}

/** A named lock's bigint key, hashed by the server from the name and the registry's schema (see LEADER_LOCK). */
function lockKey(session: Sql, name: string) {
  return session`hashtextextended(${name} || current_schema(), 0)`;
}

/** Takes a named session lock if free; whether it was taken. */
async function tryLock(session: Sql, name: string): Promise<boolean> {
  const [row] = await session<{ held: boolean }[]>`SELECT pg_try_advisory_lock(${lockKey(session, name)}) AS held`;
  return row!.held;
}
