// `npm start`: the whole thing on embedded defaults in one process: the hub
// (HTTPS on 8080, the embedded broker's MQTTS on 8883, registry in ./data/hub,
// the hub's default; its CA made there at the first start) and a small fleet
// of simulated agents pinning that CA, registering, judging intents and
// heartbeating. It prints how to watch it (curl and mosquitto_sub trusting the
// same CA). Plaintext only for the lab: EDGEFED_TLS=off EDGEFED_ALLOW_PLAINTEXT=1.
import { Fleet, SIM_NODES_SETTING } from "../agent/fleet-sim.ts";
import { startHub, type RunningHub } from "../hub/hub.ts";
import { WATCHER_USERNAME } from "../hub/broker/embedded-broker.ts";
import { ADMIN_TOKEN_FILE, WATCH_TOKEN_FILE } from "../hub/identity/hub-identity.ts";
import { createEnrollmentToken } from "../hub/identity/enrollment-tokens.ts";
import { hubSettingsHelp, parseHubSettings, type HubSettings } from "../hub/settings.ts";
import { runCommand } from "../lib/command-line.ts";
import { createLogger, lineLog } from "../lib/logger.ts";
import { parseSettings } from "../lib/settings.ts";
import { join } from "node:path";

function help(): string {
  return [
    "usage: npm start [-- options]   the hub and a simulated fleet (in ./data/sim) in one process; Ctrl-C stops everything",
    `       ${SIM_NODES_SETTING.env}=N npm start   with N simulated agents (default ${SIM_NODES_SETTING.default})`,
    "",
    ...hubSettingsHelp(),
  ].join("\n");
}

/** Command lines that watch the running hub: its API with curl, its topics with mosquitto_sub, both trusting its CA. */
function watchHints(hub: RunningHub, settings: HubSettings): string[] {
  const broker = new URL(hub.mqttUrl);
  const tokenOf = (file: string) => `"$(cat ${join(settings.dataDir, file)})"`;
  return [
    `the API: curl${hub.tls ? ` --cacert ${hub.tls.caFile}` : ""} -H "Authorization: Bearer $(cat ${join(settings.dataDir, ADMIN_TOKEN_FILE)})" ${hub.httpUrl}/federation/nodes`,
    `the topics: mosquitto_sub -h ${broker.hostname} -p ${broker.port}${hub.tls ? ` --cafile ${hub.tls.caFile}` : ""} -u '${WATCHER_USERNAME}' -P ${tokenOf(WATCH_TOKEN_FILE)} -i edgefed-hub-watch-me -v -t 'edgefed/v1/#'`,
  ];
}

async function main(): Promise<void> {
  const settings = parseHubSettings(process.argv.slice(2), process.env);
  const { nodes } = parseSettings<{ nodes: number }>([SIM_NODES_SETTING], [], process.env);
  const logger = createLogger("start");
  const hub = await startHub(settings, lineLog(createLogger("hub")));

  const token = await createEnrollmentToken(hub.context.store, { uses: Math.max(nodes, 1), ttlMs: 3600_000, label: "npm start" }, Date.now());

  // The simulated agents pin the CA the hub made (TLS is on unless the lab's plaintext is allowed), as a flashed card does.
  const fleet = await Fleet.start({ nodes, hubUrl: hub.httpUrl, hubCa: hub.tls?.caFile ?? "", token, rate: 1, reportEveryS: 5, seed: Date.now() % 2 ** 32, dataDir: "./data/sim", prefix: "sim", log: lineLog(createLogger("sim")) });
  logger.info(`hub on ${hub.httpUrl}, ${nodes} simulated agents; Ctrl-C stops everything`);
  for (const hint of watchHints(hub, settings)) logger.info(`watch ${hint}`);

  const report = setInterval(() => {
    const counts = hub.context.fleet.countsByHealth();
    const ingest = hub.ingest.stats();
    logger.info(`nodes ${JSON.stringify(counts)}; messages applied ${ingest.applied}, dropped ${ingest.dropped}`);
  }, 10_000);

  let stopping = false;
  async function stop(): Promise<void> {
    if (stopping) return;
    stopping = true;
    clearInterval(report);
    await fleet.stop();
    await hub.stop();
    process.exit(0);
  }
  process.on("SIGHUP", () => void hub.reloadTls().catch((error: Error) => logger.error(`TLS reload failed (the old certificate stays): ${error.message}`)));
  process.on("SIGINT", () => void stop());
  process.on("SIGTERM", () => void stop());
}

await runCommand("edgefed start", help, main);
