// TODO(leadership): interim, until the replicas' leadership
// (hub/replicas/leadership.ts, PostgreSQL session advisory locks for every
// single-replica duty) is wired in hub.ts; then this file goes. On a shared
// registry the federation engine may run on one replica only: the replica
// holding this session advisory lock runs it. The others try every second;
// the holder checks every second that its session is still the one that took
// the lock (a lost connection frees it: the client would reconnect as another
// backend) and stops the engine at once when it is not.
// A replica that stops closes its connection, which frees the lock.
import postgres from "postgres";

/**
 * The lock's name; the server hashes it with the registry's schema into the
 * bigint key (advisory locks are database-wide, and registries in two schemas
 * of one database, as the tests have, must not share an engine).
 */
const LOCK_NAME = "edgefed-hub:federation-engine:";
const EVERY_MS = 1000;

interface Duty {
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface EngineLock {
  /** Stops the engine if it runs here and frees the lock. */
  stop(): Promise<void>;
}

/** Tries the lock at once (so the first replica up runs the engine when this resolves), then every second. */
export async function runEngineWhileLocked(databaseUrl: string, duty: Duty, log: (line: string) => void): Promise<EngineLock> {
  // One connection, kept for good: the lock belongs to its session.
  const sql = postgres(databaseUrl, { max: 1, max_lifetime: null, idle_timeout: 0, onnotice: () => {} });
  let holding = false;
  /** The backend that took the lock: another one means a new session, without it. */
  let lockPid = 0;
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | null = null;

  const loseIt = async (why: string) => {
    holding = false;
    await duty.stop();
    log(`federation engine stopped on this replica: ${why}`);
  };
  const check = async (): Promise<void> => {
    try {
      if (!holding) {
        const [row] = await sql<{ held: boolean; pid: number }[]>`
          SELECT pg_try_advisory_lock(hashtextextended(${LOCK_NAME} || current_schema(), 0)) AS held, pg_backend_pid() AS pid`;
        if (!row!.held || stopped) return;
        holding = true;
        lockPid = row!.pid;
        try {
          await duty.start();
        } catch (error) {
          holding = false;
          await sql`SELECT pg_advisory_unlock(hashtextextended(${LOCK_NAME} || current_schema(), 0))`;
          log(`federation engine did not start (another replica may take it): ${(error as Error).message}`);
        }
        return;
      }
      const [row] = await sql<{ pid: number }[]>`SELECT pg_backend_pid() AS pid`;
      if (row!.pid !== lockPid) await loseIt("its registry session, which held the engine's lock, was lost");
    } catch (error) {
      if (holding) await loseIt(`the engine's lock connection failed: ${(error as Error).message}`);
    }
  };
  let checking = check();
  await checking;
  const schedule = () => {
    timer = setTimeout(() => {
      checking = check().finally(() => !stopped && schedule());
    }, EVERY_MS);
    timer.unref?.();
  };
  schedule();

  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await checking;
      await duty.stop();
      await sql.end({ timeout: 5 });
    },
  };
}
