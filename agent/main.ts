// edgefed-agent: `bun run agent [options]` runs the agent; `check-config`
// validates settings and what start-up needs on disk, then exits (systemd
// ExecStartPre). Exit codes: 0 ok, 2 bad settings, 1 failure.
import { arch as osArch } from "node:os";
import { ConfigError, loadGateConfig } from "../kernel/config-file.ts";
import { Agent } from "./agent.ts";
import { checkAgentConfig } from "./check-config.ts";
import { openSdNotify } from "./sd-notify.ts";
import { agentHelp, AgentSettingsError, describeAgentSettings, parseAgentSettings } from "./settings.ts";
import { firstStopSignal } from "../lib/stop-signal.ts";

export const AGENT_VERSION = "0.1.0";

const log = (line: string) => console.log(`[agent] ${line}`);

function fail(lines: string[], code: number): never {
  for (const line of lines) console.error(`edgefed-agent: ${line}`);
  process.exit(code);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args.includes("--help") || args.includes("-h")) {
    console.log(agentHelp());
    return;
  }
  const checkOnly = args[0] === "check-config";
  let settings;
  try {
    settings = parseAgentSettings(checkOnly ? args.slice(1) : args, process.env);
  } catch (error) {
    if (error instanceof AgentSettingsError) fail(error.problems, 2);
    throw error;
  }
  const problems = checkAgentConfig(settings);
  if (problems.length) fail(problems, 2);
  if (checkOnly) {
    console.log(`edgefed-agent: configuration ok (node ${settings.nodeId})`);
    return;
  }

  let gateConfig;
  try {
    gateConfig = loadGateConfig({ file: settings.kernelConfig, env: process.env });
  } catch (error) {
    if (error instanceof ConfigError) fail(error.problems, 2);
    throw error;
  }
  for (const warning of gateConfig.warnings) log(`kernel config: ${warning}`);
  // Listening before start-up (lib/stop-signal.ts says why).
  const stopSignal = firstStopSignal();
  log(`starting with ${JSON.stringify(describeAgentSettings(settings))}; kernel config ${gateConfig.hash}`);

  const agent = await Agent.start({
    nodeId: settings.nodeId,
    dataDir: settings.dataDir,
    hubUrl: settings.offline ? "" : settings.hubUrl,
    enrollToken: settings.enrollToken,
    advertisement: { capabilities: settings.capabilities, arch: osArch() === "arm64" ? "arm64" : "x64", version: AGENT_VERSION },
    gateConfig: gateConfig.config,
    heartbeatS: settings.heartbeatS,
    apiPort: settings.apiPort,
    outboxMax: settings.outboxMax,
    reconnectMaxS: settings.reconnectMaxS,
    journalRetentionDays: settings.journalRetentionDays,
    offlineHoldAfterS: settings.offlineHoldAfterS,
    log,
  });
  log(`local intent API on 127.0.0.1:${agent.apiPort}`);
  // systemd (Type=notify): ready once the local API listens; watchdog pings only while healthy. No-op without NOTIFY_SOCKET.
  const systemd = await openSdNotify({ log });
  systemd.ready(`node ${settings.nodeId}, local API on 127.0.0.1:${agent.apiPort}`);
  systemd.startWatchdog(() => agent.healthy());
  const signal = await stopSignal;
  log(`${signal}: stopping`);
  systemd.stopping();
  await agent.stop();
  systemd.close();
  process.exit(0);
}

await main();
