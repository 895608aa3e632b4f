// The fleet simulator: N agents in one process, each with its own identity,
// store and MQTT connection, generating intents at a steady rate, so
// operators can try a fleet without hardware and benchmarks can load a hub.
//   bun run sim --nodes 10 --hub http://127.0.0.1:8080 --token efe_... [--rate 1] [--data-dir DIR] [--prefix sim]
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { DEFAULT_CONFIG } from "../kernel/config.ts";
import type { Intent } from "../kernel/types.ts";
import { runCommand } from "../lib/command-line.ts";
import { createLogger, lineLog } from "../lib/logger.ts";
import { httpUrl, nonEmpty, nonNegative, path, token, wholeNumber } from "../lib/setting-values.ts";
import { parseSettings, settingsHelp, type Checked, type Setting, type SettingsTable } from "../lib/settings.ts";
import { isNodeId } from "../protocol/topics.ts";
import { Agent } from "./agent.ts";

export interface FleetOptions {
  nodes: number;
  hubUrl: string;
  token: string;
  /** Intents per second per node; 0 for none. */
  rate: number;
  dataDir: string;
  prefix: string;
  log(line: string): void;
}

const SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT"];
const MODELS: [string, Intent["regime"]][] = [["NHiTS", "TREND"], ["XGBoost", "RANGE"], ["XGBoost", "HIGH_VOL"], ["PatchTST", "LOW_VOL"]];

/** A plausible intent: about half pass the gates, the rest hold for a mix of reasons. */
function randomIntent(nodeId: string, n: number): Intent {
  const price = 100 + Math.random() * 900;
  const side = Math.random() < 0.5 ? "BUY" : "SELL";
  const risk = price * (0.002 + Math.random() * 0.01);
  const reward = risk * (1 + Math.random() * 3);
  const [model, regime] = MODELS[Math.floor(Math.random() * MODELS.length)]!;
  return {
    id: `${nodeId}-${Date.now()}-${n}`,
    symbol: SYMBOLS[Math.floor(Math.random() * SYMBOLS.length)]!,
    side,
    qty: Math.round((10 + Math.random() * 500) / price * 1e6) / 1e6,
    price,
    tp: side === "BUY" ? price + reward : price - reward,
    sl: side === "BUY" ? price - risk : price + risk,
    expected_move_usd: Math.random() * 20,
    model,
    regime,
    ts: Date.now(),
  };
}

export class Fleet {
  private readonly timers: ReturnType<typeof setInterval>[] = [];
  private constructor(readonly agents: Agent[]) {}

  static async start(options: FleetOptions): Promise<Fleet> {
    mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
    const agents: Agent[] = [];
    for (let i = 0; i < options.nodes; i++) {
      const nodeId = `${options.prefix}-${String(i + 1).padStart(3, "0")}`;
      agents.push(
        await Agent.start({
          nodeId,
          dataDir: join(options.dataDir, nodeId),
          hubUrl: options.hubUrl,
          enrollToken: options.token,
          advertisement: { capabilities: ["kernel", "sim"], arch: "x64", version: "0.1.0-sim" },
          gateConfig: { ...DEFAULT_CONFIG },
          heartbeatS: 0,
          apiPort: null,
          outboxMax: 100_000,
          reconnectMaxS: 30,
          journalRetentionDays: 7,
          log: (line) => options.log(`${nodeId}: ${line}`),
        }),
      );
    }
    const fleet = new Fleet(agents);
    if (options.rate > 0) {
      let n = 0;
      for (const agent of agents) {
        fleet.timers.push(setInterval(() => void agent.submit([randomIntent(agent.identity.nodeId, n++)]), 1000 / options.rate));
      }
    }
    return fleet;
  }

  async stop(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    for (const agent of this.agents) await agent.stop();
  }
}

/** The command line's settings: all a fleet needs but where it logs. */
type SimSettings = Omit<FleetOptions, "log">;

/** Also read by `npm start` (scripts/start.ts), which runs a fleet of this size beside its hub. */
export const SIM_NODES_SETTING: Setting<SimSettings, "nodes"> = {
  key: "nodes",
  flag: "nodes",
  env: "EDGEFED_SIM_NODES",
  parse: wholeNumber(0),
  value: "N",
  default: "5",
  help: "simulated agents",
};

const SIM_SETTINGS: SettingsTable<SimSettings> = [
  SIM_NODES_SETTING,
  { key: "hubUrl", flag: "hub", env: "EDGEFED_HUB_URL", parse: nonEmpty(httpUrl), value: "URL", help: "the hub, e.g. http://127.0.0.1:8080" },
  { key: "token", flag: "token", env: "EDGEFED_ENROLL_TOKEN", parse: nonEmpty(token), value: "TOKEN", help: "an enrollment token for that many nodes (bun run hub token create --uses N)", secret: true },
  { key: "rate", flag: "rate", parse: nonNegative, value: "PER_S", default: "1", help: "intents per second per node; 0: none" },
  { key: "dataDir", flag: "data-dir", parse: path, value: "DIR", default: "./data/sim", help: "one state directory per simulated node" },
  { key: "prefix", flag: "prefix", parse: nodeIdPrefix, value: "NAME", default: "sim", help: "node ids are NAME-001, NAME-002, ..." },
];

function nodeIdPrefix(raw: string): Checked<string> {
  return isNodeId(`${raw}-001`) ? { value: raw } : { problem: `${JSON.stringify(raw)} does not make node ids (lowercase letters, digits and -)` };
}

function simHelp(): string {
  return ["usage: bun run sim --hub URL --token TOKEN [options]   N agents in one process, against a real hub", "", "options (flag, environment variable):", ...settingsHelp(SIM_SETTINGS), "  -h, --help"].join("\n");
}

if (import.meta.main) {
  await runCommand("edgefed sim", simHelp, async () => {
    const settings = parseSettings(SIM_SETTINGS, process.argv.slice(2), process.env);
    const logger = createLogger("sim");
    const fleet = await Fleet.start({ ...settings, log: lineLog(logger) });
    logger.info(`${settings.nodes} simulated agents running against ${settings.hubUrl}; Ctrl-C stops them`);
    process.on("SIGINT", () => void fleet.stop().then(() => process.exit(0)));
    process.on("SIGTERM", () => void fleet.stop().then(() => process.exit(0)));
  });
}
