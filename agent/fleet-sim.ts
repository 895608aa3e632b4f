// The fleet simulator: N agents in one process, each with its own identity,
// store and MQTT connection, generating intents at a steady rate and
// reporting what its simulated strategy (sim-strategy.ts) does: portfolio
// snapshots of a random walk with occasional drawdowns, health that follows
// the drawdown, model performance and position closes, all through the same
// agent methods the local API calls for a real strategy. So operators can
// try a fleet, and the federation roles have something to watch, without
// hardware; benchmarks can load a hub. `--seed` makes it repeatable.
//   bun run sim --nodes 10 --hub https://127.0.0.1:8080 --hub-ca data/hub/tls/ca.pem --token efe_... [--rate 1] [--report-every 5] [--seed N] [--data-dir DIR] [--prefix sim]
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { DEFAULT_CONFIG } from "../kernel/config.ts";
import type { Intent } from "../kernel/types.ts";
import { runCommand } from "../lib/command-line.ts";
import { createLogger, lineLog } from "../lib/logger.ts";
import { httpUrl, nonEmpty, nonNegative, path, token, wholeNumber } from "../lib/setting-values.ts";
import { parseSettings, settingsHelp, type Checked, type Setting, type SettingsTable } from "../lib/settings.ts";
import { isNodeId } from "../protocol/topics.ts";
import { Agent } from "./agent.ts";
import { MODELS, SimulatedStrategy, SYMBOLS } from "./sim-strategy.ts";

export interface FleetOptions {
  nodes: number;
  hubUrl: string;
  /** The hub's CA certificate file (PEM), which every simulated agent pins; "": the system store. */
  hubCa?: string;
  token: string;
  /** Intents per second per node; 0 for none. */
  rate: number;
  /** Seconds between two steps of each node's simulated strategy (its reports); 0 for none. */
  reportEveryS: number;
  /** Seeds every node's strategy and intents (node i gets seed + i): the same seed gives the same values. */
  seed: number;
  dataDir: string;
  prefix: string;
  log(line: string): void;
}

/** A plausible intent: about half pass the gates, the rest hold for a mix of reasons. */
function randomIntent(nodeId: string, n: number, random: () => number): Intent {
  const price = 100 + random() * 900;
  const side = random() < 0.5 ? "BUY" : "SELL";
  const risk = price * (0.002 + random() * 0.01);
  const reward = risk * (1 + random() * 3);
  const [model, regime] = MODELS[Math.floor(random() * MODELS.length)]!;
  return {
    id: `${nodeId}-${Date.now()}-${n}`,
    symbol: SYMBOLS[Math.floor(random() * SYMBOLS.length)]!,
    side,
    qty: Math.round(((10 + random() * 500) / price) * 1e6) / 1e6,
    price,
    tp: side === "BUY" ? price + reward : price - reward,
    sl: side === "BUY" ? price - risk : price + risk,
    expected_move_usd: random() * 20,
    model,
    regime,
    ts: Date.now(),
  };
}

/** One step of a node's strategy, reported as a real strategy would; a refusal is logged, never thrown into the timer. */
function reportStep(agent: Agent, strategy: SimulatedStrategy, log: (line: string) => void): void {
  const step = strategy.step(Date.now());
  try {
    agent.report("portfolio", [step.portfolio]);
    if (step.health) agent.report("health", [step.health]);
    if (step.models.length) agent.report("models", step.models);
    if (step.closes.length) agent.recordCloses(step.closes);
  } catch (error) {
    log(`${agent.identity.nodeId}: the simulated strategy's report was refused: ${(error as Error).message}`);
  }
}

export class Fleet {
  private readonly timers: ReturnType<typeof setInterval>[] = [];
  private constructor(readonly agents: Agent[]) {}

  static async start(options: FleetOptions): Promise<Fleet> {
    mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
    const hubCa = options.hubCa ? readFileSync(options.hubCa, "utf8") : "";
    const agents: Agent[] = [];
    for (let i = 0; i < options.nodes; i++) {
      const nodeId = `${options.prefix}-${String(i + 1).padStart(3, "0")}`;
      agents.push(
        await Agent.start({
          nodeId,
          dataDir: join(options.dataDir, nodeId),
          hubUrl: options.hubUrl,
          hubCa,
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
    const startedAt = Date.now();
    agents.forEach((agent, i) => {
      const strategy = new SimulatedStrategy(options.seed + i, startedAt);
      let n = 0;
      if (options.rate > 0) {
        fleet.timers.push(setInterval(() => void agent.submit([randomIntent(agent.identity.nodeId, n++, strategy.random)]), 1000 / options.rate));
      }
      if (options.reportEveryS > 0) fleet.timers.push(setInterval(() => reportStep(agent, strategy, options.log), options.reportEveryS * 1000));
    });
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
  { key: "hubUrl", flag: "hub", env: "EDGEFED_HUB_URL", parse: nonEmpty(httpUrl), value: "URL", help: "the hub, e.g. https://127.0.0.1:8080 (with --hub-ca)" },
  { key: "hubCa", flag: "hub-ca", env: "EDGEFED_HUB_CA", parse: (raw) => (raw === "" ? { value: raw } : path(raw)), value: "FILE", default: "", help: "the hub's CA certificate (PEM), the only one the agents trust; empty: the system's store" },
  { key: "token", flag: "token", env: "EDGEFED_ENROLL_TOKEN", parse: nonEmpty(token), value: "TOKEN", help: "an enrollment token for that many nodes (bun run hub token create --uses N)", secret: true },
  { key: "rate", flag: "rate", parse: nonNegative, value: "PER_S", default: "1", help: "intents per second per node; 0: none" },
  {
    key: "reportEveryS",
    flag: "report-every",
    parse: nonNegative,
    value: "S",
    default: "5",
    help: "seconds between the simulated strategies' reports (portfolio, health, models, closes); 0: none",
  },
  { key: "seed", flag: "seed", parse: seedValue, value: "N", default: "clock", help: "seeds the simulated strategies: the same N, the same run; clock: a new one each run" },
  { key: "dataDir", flag: "data-dir", parse: path, value: "DIR", default: "./data/sim", help: "one state directory per simulated node" },
  { key: "prefix", flag: "prefix", parse: nodeIdPrefix, value: "NAME", default: "sim", help: "node ids are NAME-001, NAME-002, ..." },
];

function seedValue(raw: string): Checked<number> {
  return raw === "clock" ? { value: Date.now() % 2 ** 32 } : wholeNumber(0)(raw);
}

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
