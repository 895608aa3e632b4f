// Hub replicas in this test process (startTestHub) for one test file: one
// PostgreSQL registry and one Mosquitto with dynamic security, started before
// the file's tests and stopped after them with every replica started.
// Replicas take node traffic through shared subscriptions.
import { afterAll, beforeAll } from "bun:test";
import { removeTempDirs } from "../helpers.ts";
import { startTestHub, type TestHub } from "./hub-harness.ts";
import { startMosquitto, type RunningMosquitto } from "./mosquitto.ts";
import { POSTGRES_START_BOUND_MS, startPostgres, type RunningPostgres } from "./postgres.ts";

export interface InProcessReplicas {
  /** The registry's URL (valid once the file's beforeAll ran). */
  url(): string;
  /** Every replica started, in order (a test may stop and take some out). */
  hubs: TestHub[];
  /** Starts replica `hubId` on the registry and the broker, with `env` added. */
  replica(hubId: string, env?: Record<string, string>): Promise<TestHub>;
}

export function inProcessReplicasForThisFile(): InProcessReplicas {
  let postgres: RunningPostgres | undefined;
  let mosquitto: RunningMosquitto | undefined;
  let url = "";
  const hubs: TestHub[] = [];
  beforeAll(async () => {
    [postgres, mosquitto] = await Promise.all([startPostgres(), startMosquitto({ dynsec: true })]);
    url = await postgres.freshRegistryUrl();
  }, POSTGRES_START_BOUND_MS);
  afterAll(async () => {
    for (const hub of hubs) await hub.stop().catch(() => {});
    await mosquitto?.stop();
    await postgres?.stop();
    removeTempDirs();
  });
  return {
    url: () => url,
    hubs,
    async replica(hubId, env = {}) {
      const hub = await startTestHub({ mosquitto, env: { EDGEFED_DATABASE_URL: url, EDGEFED_HUB_ID: hubId, EDGEFED_SHARED_SUBSCRIPTIONS: "1", ...env } });
      hubs.push(hub);
      return hub;
    },
  };
}
