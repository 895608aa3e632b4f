// The hub set-ups `bun run bench scale` measures, each started from nothing
// and stopped after its run: one hub on SQLite with its embedded broker; one
// hub on PostgreSQL with Mosquitto; 2 and 3 replicas on one PostgreSQL and one
// Mosquitto (EDGEFED_SHARED_SUBSCRIPTIONS=1, EDGEFED_HUB_ID r1, r2, r3). Hubs
// run as their own processes (bun hub/main.ts); Mosquitto and PostgreSQL are
// started as the tests start them (test/support/). Plaintext, as the other
// hub benchmarks without TLS=1.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { NodeRecord } from "../../hub/nodes/node-model.ts";
import { openPostgresStore } from "../../hub/store/postgres/postgres-store.ts";
import { openSqliteStore } from "../../hub/store/sqlite/sqlite-store.ts";
import type { HubStore } from "../../hub/store/hub-store.ts";
import { freePort } from "../../test/helpers.ts";
import { startMosquitto, type RunningMosquitto } from "../../test/support/mosquitto.ts";
import type { RunningPostgres } from "../../test/support/postgres.ts";
import { createToken, startHubProcess } from "../support/hub-process.ts";
import type { Child } from "../support/child.ts";

export interface SetupKind {
  /** Short key, used in the JSON record (sqlite_embedded_...). */
  key: string;
  label: string;
  replicas: number;
  registry: "sqlite" | "postgres";
}

export const SETUPS: SetupKind[] = [
  { key: "sqlite_embedded", label: "1 hub, SQLite, embedded broker", replicas: 1, registry: "sqlite" },
  { key: "postgres_mosquitto", label: "1 hub, PostgreSQL, Mosquitto", replicas: 1, registry: "postgres" },
  { key: "replicas_2", label: "2 replicas, PostgreSQL, Mosquitto", replicas: 2, registry: "postgres" },
  { key: "replicas_3", label: "3 replicas, PostgreSQL, Mosquitto", replicas: 3, registry: "postgres" },
];

export interface RunningSetup {
  kind: SetupKind;
  hubUrls: string[];
  enrollmentToken: string;
  /** What the reconnect storm is: a Mosquitto restart, or (embedded broker) a restart of the hub that holds it. */
  storm: string;
  /** Causes it: stops the broker and starts it again on the same port. */
  restartBroker(): Promise<void>;
  /** Stops the hubs (each flushes its live state first), then the broker; returns every node the registry holds after. */
  stop(): Promise<NodeRecord[]>;
}

/** Generous for a 10,000-node storm: the hub answers each registration at once. */
const HUB_ENV = { EDGEFED_RATE_REGISTER_BURST: "1000000", EDGEFED_RATE_REGISTER_PER_S: "1000000" };
/**
 * Mosquitto as docs/operations.md says to run it: persistence on, so a
 * restart keeps the hubs' sessions and what was queued for them (without it
 * the restart loses every verdict acknowledged to a node but not yet
 * delivered); max_queued_messages (default 1000, docs/hub.md) sized for
 * 10,000 verdicts/s while a replica catches up, so the broker's queue limit
 * is not what the bench measures.
 */
const mosquittoConfig = (persistenceDir: string) => ["persistence true", `persistence_location ${persistenceDir}/`, "max_queued_messages 100000"];
/** A hub behind on its ingest flushes what it holds as it stops: given this long before it is killed (what a kill loses is not the bench's). */
const HUB_STOP_BOUND_MS = 60_000;

export async function startSetup(kind: SetupKind, dir: string, postgres: RunningPostgres | null): Promise<RunningSetup> {
  return kind.registry === "sqlite" ? startEmbedded(kind, dir) : startReplicas(kind, dir, postgres!);
}

async function allNodes(open: () => Promise<HubStore>): Promise<NodeRecord[]> {
  const store = await open();
  try {
    return await store.nodes.all();
  } finally {
    await store.close();
  }
}

/** One hub with its embedded broker on fixed ports, so it can be started again where the nodes left it. */
async function startEmbedded(kind: SetupKind, dir: string): Promise<RunningSetup> {
  const dataDir = join(dir, kind.key);
  const env = { ...HUB_ENV, EDGEFED_HTTP_PORT: String(await freePort()), EDGEFED_MQTT_PORT: String(await freePort()) };
  let hub = await startHubProcess(dataDir, env);
  return {
    kind,
    hubUrls: [hub.url],
    enrollmentToken: await createToken(dataDir),
    storm: "hub restart (its embedded broker with it)",
    async restartBroker() {
      await hub.child.stop(HUB_STOP_BOUND_MS);
      hub = await startHubProcess(dataDir, env);
    },
    async stop() {
      await hub.child.stop(HUB_STOP_BOUND_MS);
      return allNodes(async () => openSqliteStore(dataDir));
    },
  };
}

async function startReplicas(kind: SetupKind, dir: string, postgres: RunningPostgres): Promise<RunningSetup> {
  const databaseUrl = await postgres.freshRegistryUrl();
  const persistenceDir = join(dir, `${kind.key}-mosquitto`);
  mkdirSync(persistenceDir, { recursive: true });
  const mosquitto: RunningMosquitto = await startMosquitto({ dynsec: true, tls: false, extraConfig: mosquittoConfig(persistenceDir) });
  const hubs: Child[] = [];
  try {
    const env = {
      ...HUB_ENV,
      EDGEFED_DATABASE_URL: databaseUrl,
      EDGEFED_MQTT_URL: mosquitto.url,
      EDGEFED_MQTT_USERNAME: mosquitto.admin!.username,
      EDGEFED_MQTT_PASSWORD: mosquitto.admin!.password,
      ...(kind.replicas > 1 ? { EDGEFED_SHARED_SUBSCRIPTIONS: "1" } : {}),
    };
    const hubUrls: string[] = [];
    // One after the other: the first runs the registry's migrations (under an advisory lock anyway).
    for (let i = 1; i <= kind.replicas; i++) {
      const hub = await startHubProcess(join(dir, `${kind.key}-r${i}`), { ...env, EDGEFED_HUB_ID: `r${i}` });
      hubs.push(hub.child);
      hubUrls.push(hub.url);
    }
    return {
      kind,
      hubUrls,
      enrollmentToken: await createToken(join(dir, `${kind.key}-r1`), { EDGEFED_DATABASE_URL: databaseUrl }),
      storm: "Mosquitto restart",
      async restartBroker() {
        await mosquitto.stop();
        await mosquitto.restart();
      },
      async stop() {
        await Promise.all(hubs.map((hub) => hub.stop(HUB_STOP_BOUND_MS)));
        await mosquitto.stop();
        return allNodes(() => openPostgresStore(databaseUrl));
      },
    };
  } catch (error) {
    await Promise.all(hubs.map((hub) => hub.stop()));
    await mosquitto.stop();
    throw error;
  }
}
