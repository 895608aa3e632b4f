// `npm start`: the whole thing on embedded defaults in one process: the hub
// (HTTP on 8080, embedded MQTT broker on 1883, registry in ./data/hub, the
// hub's default) and a small fleet of simulated agents registering with it,
// judging intents and heartbeating. Watch it with `mosquitto_sub -u
// '$edgefed-watch' -P "$(cat data/hub/watch-token)" -i edgefed-hub-watch-me -v
// -t 'edgefed/v1/#'` (the read-only watcher login) or
// `curl -H "Authorization: Bearer $(cat data/hub/admin-token)" localhost:8080/federation/nodes`.
import { Fleet, SIM_NODES_SETTING } from "../agent/fleet-sim.ts";
import { startHub } from "../hub/hub.ts";
import { createEnrollmentToken } from "../hub/identity/enrollment-tokens.ts";
import { hubSettingsHelp, parseHubSettings } from "../hub/settings.ts";
import { runCommand } from "../lib/command-line.ts";
import { createLogger, lineLog } from "../lib/logger.ts";
import { parseSettings } from "../lib/settings.ts";

function help(): string {
  return [
    "usage: npm start [-- options]   the hub and a simulated fleet (in ./data/sim) in one process; Ctrl-C stops everything",
    `       ${SIM_NODES_SETTING.env}=N npm start   with N simulated agents (default ${SIM_NODES_SETTING.default})`,
    "",
    ...hubSettingsHelp(),
  ].join("\n");
}

async function main(): Promise<void> {
  const settings = parseHubSettings(process.argv.slice(2), process.env);
  const { nodes } = parseSettings<{ nodes: number }>([SIM_NODES_SETTING], [], process.env);
  const logger = createLogger("start");
  const hub = await startHub(settings, lineLog(createLogger("hub")));

  const token = await createEnrollmentToken(hub.context.store, { uses: Math.max(nodes, 1), ttlMs: 3600_000, label: "npm start" }, Date.now());

  // With TLS on, the simulated agents pin the CA the hub made, as a flashed card does.
  const fleet = await Fleet.start({ nodes, hubUrl: hub.httpUrl, hubCa: hub.tls?.caFile ?? "", token, rate: 1, reportEveryS: 5, seed: Date.now() % 2 ** 32, dataDir: "./data/sim", prefix: "sim", log: lineLog(createLogger("sim")) });
  logger.info(`hub on ${hub.httpUrl}, ${nodes} simulated agents; Ctrl-C stops everything`);

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
