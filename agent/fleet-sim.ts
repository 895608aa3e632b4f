// The fleet simulator: N agents in one process, each with its own identity,
// store and MQTT connection, generating intents at a steady rate, so
// operators can try a fleet without hardware and benchmarks can load a hub.
//   bun run sim --nodes 10 --hub http://127.0.0.1:8080 --token efe_... [--rate 1] [--data-dir DIR] [--prefix sim]
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { DEFAULT_CONFIG } from "../kernel/config.ts";
import type { Intent } from "../kernel/types.ts";
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

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const hubUrl = flag(args, "--hub") ?? process.env.EDGEFED_HUB_URL ?? "";
  const token = flag(args, "--token") ?? process.env.EDGEFED_ENROLL_TOKEN ?? "";
  const nodes = Number(flag(args, "--nodes") ?? 5);
  const rate = Number(flag(args, "--rate") ?? 1);
  if (!/^https?:\/\//.test(hubUrl) || !token || !Number.isInteger(nodes) || nodes < 1 || !(rate >= 0)) {
    console.error("usage: bun run sim --nodes N --hub http://HUB:8080 --token ENROLLMENT_TOKEN [--rate INTENTS_PER_S] [--data-dir DIR] [--prefix NAME]");
    process.exit(2);
  }
  const fleet = await Fleet.start({ nodes, hubUrl, token, rate, dataDir: flag(args, "--data-dir") ?? "./data/sim", prefix: flag(args, "--prefix") ?? "sim", log: (line) => console.log(`[sim] ${line}`) });
  console.log(`[sim] ${nodes} simulated agents running against ${hubUrl}; Ctrl-C stops them`);
  process.on("SIGINT", () => void fleet.stop().then(() => process.exit(0)));
  process.on("SIGTERM", () => void fleet.stop().then(() => process.exit(0)));
}
