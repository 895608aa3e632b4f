// A real PostgreSQL 15 (Debian's `postgresql` package) for tests: initdb into
// a temp dir as the unprivileged `postgres` user (PostgreSQL refuses to run
// as root), listening on a free port on 127.0.0.1 with its unix socket in the
// temp dir, trust auth on loopback only. One server per test file; each test
// gets an empty registry from freshRegistryUrl(): a schema of its own, named
// in the URL (search_path, which the postgres client passes to the server),
// far cheaper than a database each. stop() shuts the server down and removes
// the dir; an exit handler does the same if a test run ends without, and a
// tiny watchdog per server does it if this process dies without running exit
// handlers (SIGKILL, a crash).
import type { Subprocess } from "bun";
import { afterAll, beforeAll } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, chownSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { freePort } from "../helpers.ts";
import type { HubStore } from "../../hub/store/hub-store.ts";
import { openPostgresStore } from "../../hub/store/postgres/postgres-store.ts";

export const POSTGRES_BIN = "/usr/lib/postgresql/15/bin";
/**
 * How long a test file may give startPostgres() (its beforeAll bound): initdb
 * writes a whole cluster, about 1 s idle and 4 s on this shared 2-core machine
 * under the others' tests; 30 s says "it hangs", not "it is slow".
 */
export const POSTGRES_START_BOUND_MS = 30_000;
/** The system user the server runs as (the package creates it). */
const SERVER_USER = "postgres";

export interface RunningPostgres {
  /** postgres://postgres@127.0.0.1:PORT/postgres (the maintenance database). */
  url: string;
  port: number;
  /** Creates an empty schema and returns a URL whose connections use it. */
  freshRegistryUrl(): Promise<string>;
  /** Stops the server (fast shutdown) and removes its dir. Idempotent. */
  stop(): Promise<void>;
}

/** Why PostgreSQL tests cannot run here, or null when they can. */
export function postgresUnavailable(): string | null {
  if (!existsSync(join(POSTGRES_BIN, "initdb"))) return `PostgreSQL 15 binaries missing in ${POSTGRES_BIN} (apt-get install postgresql)`;
  if (spawnSync("id", ["-u", SERVER_USER]).status !== 0) return `no system user ${SERVER_USER} to run PostgreSQL as`;
  return null;
}

function asServerUser(command: string, args: string[]): { ok: boolean; output: string } {
  const asRoot = process.getuid?.() === 0;
  const result = asRoot
    ? spawnSync("runuser", ["-u", SERVER_USER, "--", join(POSTGRES_BIN, command), ...args], { encoding: "utf8" })
    : spawnSync(join(POSTGRES_BIN, command), args, { encoding: "utf8" });
  return { ok: result.status === 0, output: `${result.stdout ?? ""}${result.stderr ?? ""}` };
}

/** Running servers' dirs, each with its watchdog. */
const running = new Map<string, Subprocess>();
let exitHandlerInstalled = false;

function stopNow(dir: string): void {
  const watchdog = running.get(dir);
  if (!watchdog) return;
  running.delete(dir);
  watchdog.kill("SIGKILL");
  asServerUser("pg_ctl", ["stop", "-D", join(dir, "data"), "-m", "immediate", "-w"]);
  rmSync(dir, { recursive: true, force: true });
}

/** `durable`: fsync on, as a production server runs (benchmarks); tests leave it off. */
export async function startPostgres(options: { durable?: boolean } = {}): Promise<RunningPostgres> {
  const unavailable = postgresUnavailable();
  if (unavailable) throw new Error(unavailable);
  if (!exitHandlerInstalled) {
    exitHandlerInstalled = true;
    process.on("exit", () => [...running.keys()].forEach(stopNow));
  }
  const dir = mkdtempSync(join(tmpdir(), "edgefed-pg-"));
  if (process.getuid?.() === 0) {
    const uid = Number(spawnSync("id", ["-u", SERVER_USER], { encoding: "utf8" }).stdout);
    const gid = Number(spawnSync("id", ["-g", SERVER_USER], { encoding: "utf8" }).stdout);
    chownSync(dir, uid, gid);
  }
  const data = join(dir, "data");
  // When this process goes away without exit handlers, the watchdog's stdin pipe closes and `read` returns.
  const stopCommand = `${process.getuid?.() === 0 ? `runuser -u ${SERVER_USER} -- ` : ""}${join(POSTGRES_BIN, "pg_ctl")} stop -D "$0" -m immediate`;
  const watchdog = Bun.spawn(["/bin/sh", "-c", `read _ ; ${stopCommand} >/dev/null 2>&1; rm -rf "$1"`, data, dir], {
    stdin: "pipe",
    stdout: "ignore",
    stderr: "ignore",
  });
  watchdog.unref();
  running.set(dir, watchdog);
  const init = asServerUser("initdb", ["-D", data, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "--no-instructions", "--no-sync"]);
  if (!init.ok) {
    stopNow(dir);
    throw new Error(`initdb failed: ${init.output}`);
  }
  const port = await freePort();
  // fsync off by default: a test server's files die with it; nothing here tests a power cut.
  const serverOptions = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=${options.durable ? "on" : "off"} -c max_connections=200`;
  const start = asServerUser("pg_ctl", ["start", "-D", data, "-w", "-t", "30", "-l", join(dir, "server.log"), "-o", serverOptions]);
  if (!start.ok) {
    stopNow(dir);
    throw new Error(`pg_ctl start failed: ${start.output}`);
  }
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const admin = postgres(url, { max: 1, onnotice: () => {} });
  let schemas = 0;
  return {
    url,
    port,
    async freshRegistryUrl() {
      const schema = `registry_${++schemas}`;
      await admin.unsafe(`CREATE SCHEMA ${schema}`);
      return `${url}?search_path=${schema}`;
    },
    async stop() {
      await admin.end({ timeout: 5 });
      stopNow(dir);
    },
  };
}

/** A test file's PostgreSQL server and the registries its tests open on it. */
export interface FilePostgres {
  /** The server, once the file's beforeAll started it. */
  server(): RunningPostgres;
  /** Opens a store on the registry at `url`, closed after the file's tests. */
  openStore(url: string): Promise<HubStore>;
}

/**
 * Starts a server for this test file before its tests and, after them, runs
 * `beforeStop` (what the file started on the stores: feeds, locks), closes
 * every store openStore() opened, then stops the server. Call it at the top
 * of the branch that runs when postgresUnavailable() is null.
 */
export function postgresForThisFile(beforeStop: () => Promise<unknown> = async () => {}): FilePostgres {
  let server: RunningPostgres | undefined;
  const stores: HubStore[] = [];
  beforeAll(async () => {
    server = await startPostgres();
  }, POSTGRES_START_BOUND_MS);
  afterAll(async () => {
    await beforeStop();
    await Promise.all(stores.map((store) => store.close()));
    await server?.stop();
  });
  return {
    server: () => server!,
    async openStore(url) {
      const store = await openPostgresStore(url);
      stores.push(store);
      return store;
    },
  };
}
