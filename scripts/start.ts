// `npm start`: the whole thing on embedded defaults in one process: the hub
// (HTTP on 8080, embedded MQTT broker on 1883, registry in ./data/hub) and a
// small fleet of simulated agents registering with it, judging intents and
// heartbeating. Watch it with `mosquitto_sub -u '$edgefed-watch' -P "$(cat
// data/hub/watch-token)" -i edgefed-hub-watch-me -v -t 'edgefed/v1/#'` (the
// read-only watcher login) or
// `curl -H "Authorization: Bearer $(cat data/hub/admin-token)" localhost:8080/federation/nodes`.
import { Fleet } from "../agent/fleet-sim.ts";
import { startHub } from "../hub/hub.ts";
import { parseHubSettings } from "../hub/settings.ts";
import { createEnrollmentToken } from "../hub/identity/enrollment-tokens.ts";

const NODES = Number(process.env.EDGEFED_SIM_NODES ?? 5);
const settings = parseHubSettings(process.argv.slice(2), { EDGEFED_DATA_DIR: "./data/hub", ...process.env });
const hub = await startHub(settings);

const token = await createEnrollmentToken(hub.context.store, { uses: NODES, ttlMs: 3600_000, label: "npm start" }, Date.now());

const fleet = await Fleet.start({
  nodes: NODES,
  hubUrl: hub.httpUrl,
  token,
  rate: 1,
  dataDir: "./data/sim",
  prefix: "sim",
  log: (line) => console.log(`[sim] ${line}`),
});
console.log(`[start] hub on ${hub.httpUrl}, ${NODES} simulated agents; Ctrl-C stops everything`);

const report = setInterval(() => {
  const counts = hub.context.fleet.countsByHealth();
  const ingest = hub.ingest.stats();
  console.log(`[start] nodes ${JSON.stringify(counts)}; messages applied ${ingest.applied}, dropped ${ingest.dropped}`);
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
process.on("SIGINT", () => void stop());
process.on("SIGTERM", () => void stop());
