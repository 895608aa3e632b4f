// Hub replicas as real processes (issue 16): N `bun hub/main.ts` processes on
// one Mosquitto (dynamic security) and one PostgreSQL registry, each named
// by EDGEFED_HUB_ID, taking node traffic through shared subscriptions
// (EDGEFED_SHARED_SUBSCRIPTIONS=1), with a data dir of its own (its TLS files:
// the test run's PKI) and a free HTTP port. A replica can be killed for real
// (`kill -9`) and started again under the same id and data dir (on a new
// port). The registry is read through the PostgreSQL store, as the hubs
// write it.
import { createEnrollmentToken } from "../../hub/identity/enrollment-tokens.ts";
import type { HubStore } from "../../hub/store/hub-store.ts";
import { openPostgresStore } from "../../hub/store/postgres/postgres-store.ts";
import { tempDir } from "../helpers.ts";
import { startHubProcess, type HubProcess } from "./hub-process.ts";
import type { RunningMosquitto } from "./mosquitto.ts";
import { seedTestTls } from "./test-tls.ts";

/** Short timers, as the in-process test hub has them (hub-harness.ts): heartbeats every second, flush and sweep ten times a second. */
const REPLICA_TIMERS = { EDGEFED_HEARTBEAT_S: "1", EDGEFED_FLUSH_MS: "100", EDGEFED_SWEEP_MS: "100" };

/** Lines of each replica's output a failure message shows. */
const OUTPUT_LINES_SHOWN = 30;

export interface HubReplica {
  readonly hubId: string;
  readonly dataDir: string;
  /** The running process's base URL; a restart listens on a new port. */
  httpUrl(): string;
  api: HubProcess["api"];
  /** What the current process printed, for failure messages. */
  output(): string;
  running(): boolean;
  /** Sends `signal` (SIGKILL by default: `kill -9`) and waits for the exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts the replica again under the same id, data dir and env (after kill()). */
  restart(): Promise<void>;
}

export interface HubReplicas {
  replicas: HubReplica[];
  /** The registry the replicas share, opened by the test (closed by stop()). */
  registry: HubStore;
  /** A fresh enrollment token, written into the registry as `hub token create` does. */
  enrollmentToken(options?: { uses?: number }): Promise<string>;
  /** The tail of every replica's output, labelled by id, for failure messages. */
  outputs(): string;
  /** SIGKILLs the replicas still running and closes the registry. */
  stop(): Promise<void>;
}

/**
 * Starts `count` replicas named `<idPrefix>-1`, `<idPrefix>-2`, ... one
 * after the other, in that order (the first started is the first to take
 * any leadership), on `databaseUrl` (one empty registry: postgres.ts
 * freshRegistryUrl()) and `mosquitto` (started with dynsec). `env` is added
 * to every replica's.
 */
export async function startHubReplicas(options: {
  count: number;
  mosquitto: RunningMosquitto;
  databaseUrl: string;
  idPrefix?: string;
  env?: Record<string, string>;
}): Promise<HubReplicas> {
  const { mosquitto, databaseUrl } = options;
  if (!mosquitto.admin) throw new Error("hub replicas need a Mosquitto with dynamic security (startMosquitto({ dynsec: true }))");
  const shared = {
    ...REPLICA_TIMERS,
    EDGEFED_DATABASE_URL: databaseUrl,
    EDGEFED_SHARED_SUBSCRIPTIONS: "1",
    EDGEFED_MQTT_URL: mosquitto.url,
    EDGEFED_MQTT_USERNAME: mosquitto.admin.username,
    EDGEFED_MQTT_PASSWORD: mosquitto.admin.password,
    ...options.env,
  };
  const replicas: HubReplica[] = [];
  try {
    for (let i = 1; i <= options.count; i++) replicas.push(await startReplica(`${options.idPrefix ?? "replica"}-${i}`, shared));
  } catch (error) {
    await Promise.all(replicas.map((replica) => replica.kill()));
    throw error;
  }
  const registry = await openPostgresStore(databaseUrl);
  return {
    replicas,
    registry,
    async enrollmentToken(tokenOptions = {}) {
      return createEnrollmentToken(registry, { uses: tokenOptions.uses ?? 1000, ttlMs: 3_600_000, label: "replicas" }, Date.now());
    },
    outputs: () => replicas.map((replica) => `--- ${replica.hubId} (last ${OUTPUT_LINES_SHOWN} lines) ---\n${replica.output().trimEnd().split("\n").slice(-OUTPUT_LINES_SHOWN).join("\n")}`).join("\n"),
    async stop() {
      await Promise.all(replicas.map((replica) => replica.kill()));
      await registry.close();
    },
  };
}

async function startReplica(hubId: string, sharedEnv: Record<string, string>): Promise<HubReplica> {
  const dataDir = tempDir(`edgefed-${hubId}-`);
  seedTestTls(dataDir);
  const env = { ...sharedEnv, EDGEFED_HUB_ID: hubId, EDGEFED_DATA_DIR: dataDir };
  let hub = await startHubProcess(env);
  return {
    hubId,
    dataDir,
    httpUrl: () => hub.httpUrl,
    api: (...args) => hub.api(...args),
    output: () => hub.output(),
    running: () => hub.running(),
    kill: (signal) => hub.kill(signal),
    async restart() {
      if (hub.running()) throw new Error(`replica ${hubId} is still running`);
      hub = await startHubProcess(env);
    },
  };
}
