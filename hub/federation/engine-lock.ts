// TODO(leadership): interim, until the replicas' leadership
// (hub/replicas/leadership.ts, PostgreSQL session advisory locks for every
// single-replica duty) is wired in hub.ts; then this file goes. On a shared
// registry the federation engine may run on one replica only: the replica
// holding this session advisory lock runs it. The others try every second;
// the holder checks every second that its session still holds the lock (a
// lost connection frees it) and stops the engine at once when it does not.
// A replica that stops closes its connection, which frees the lock.
import postgres from "postgres";

/** The lock's two int keys: "edge" "fedt" in ASCII. */
const LOCK_KEYS = [0x65646765, 0x66656474] as const;
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
  const [k1, k2] = LOCK_KEYS;
  let holding = false;
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
        const [row] = await sql<{ held: boolean }[]>`SELECT pg_try_advisory_lock(${k1}::int, ${k2}::int) AS held`;
        if (!row!.held || stopped) return;
        holding = true;
        try {
          await duty.start();
        } catch (error) {
          holding = false;
          await sql`SELECT pg_advisory_unlock(${k1}::int, ${k2}::int)`;
          log(`federation engine did not start (another replica may take it): ${(error as Error).message}`);
        }
        return;
      }
      const [row] = await sql<{ held: boolean }[]>`
        SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted
                       AND classid = ${k1}::int::oid AND objid = ${k2}::int::oid AND objsubid = 2) AS held`;
      if (!row!.held) await loseIt("its registry session lost the engine's lock");
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
