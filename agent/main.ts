// edgefed-agent: `bun run agent [options]` runs the agent; `check-config`
// validates settings and what start-up needs on disk, then exits (systemd
// ExecStartPre). Exit codes: 0 ok, 2 bad settings, 1 failure.
import { readFileSync } from "node:fs";
import { arch as osArch } from "node:os";
import { ConfigError, loadGateConfig } from "../kernel/config-file.ts";
import { runCommand, UsageError } from "../lib/command-line.ts";
import { createLogger, lineLog } from "../lib/logger.ts";
import { firstStopSignal } from "../lib/stop-signal.ts";
import { agentHelp, describeAgentSettings, parseAgentSettings } from "../protocol/agent-env.ts";
import { Agent } from "./agent.ts";
import { checkAgentConfig } from "./check-config.ts";
import { openSdNotify } from "./sd-notify.ts";

export const AGENT_VERSION = "0.1.0";

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const checkOnly = args[0] === "check-config";
  const settings = parseAgentSettings(checkOnly ? args.slice(1) : args, process.env);
  const problems = checkAgentConfig(settings);
  if (problems.length) throw new UsageError(problems);
  if (checkOnly) {
    console.log(`edgefed-agent: configuration ok (node ${settings.nodeId})`);
    return;
  }

  let gateConfig;
  try {
    gateConfig = loadGateConfig({ file: settings.kernelConfig, env: process.env });
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(error.problems);
    throw error;
  }
  const logger = createLogger("agent");
  const log = lineLog(logger);
  for (const warning of gateConfig.warnings) logger.warn(`kernel config: ${warning}`);
  // Listening before start-up (lib/stop-signal.ts says why).
  const stopSignal = firstStopSignal();
  logger.info({ settings: describeAgentSettings(settings), kernelConfig: gateConfig.hash }, "starting");

  const agent = await Agent.start({
    nodeId: settings.nodeId,
    dataDir: settings.dataDir,
    hubUrl: settings.offline ? "" : settings.hubUrl,
    // checkAgentConfig made sure it reads as a certificate.
    hubCa: settings.hubCa ? readFileSync(settings.hubCa, "utf8") : "",
    enrollToken: settings.enrollToken,
    advertisement: { capabilities: settings.capabilities, arch: osArch() === "arm64" ? "arm64" : "x64", version: AGENT_VERSION },
    gateConfig: gateConfig.config,
    heartbeatS: settings.heartbeatS,
    apiPort: settings.apiPort,
    apiSocket: settings.apiSocket,
    apiTokenFile: settings.apiTokenFile,
    outboxMax: settings.outboxMax,
    reconnectMaxS: settings.reconnectMaxS,
    journalRetentionDays: settings.journalRetentionDays,
    workSlots: settings.workSlots,
    offlineHoldAfterS: settings.offlineHoldAfterS,
    log,
  });
  const listeners = localApiListeners(agent);
  for (const listener of listeners) log(`local intent API on ${listener}`);
  // systemd (Type=notify): ready once the local API listens; watchdog pings only while healthy. No-op without NOTIFY_SOCKET.
  const systemd = await openSdNotify({ log });
  systemd.ready(`node ${settings.nodeId}, local API on ${listeners.join(" and ") || "nothing"}`);
  systemd.startWatchdog(() => agent.healthy());
  const signal = await stopSignal;
  log(`${signal}: stopping`);
  systemd.stopping();
  await agent.stop();
  systemd.close();
  process.exit(0);
}

/** Where the local API listens, as the log says it: `unix:/run/edgefed/agent.sock`, `127.0.0.1:8787 (bearer token in FILE)`. */
function localApiListeners(agent: Agent): string[] {
  const listeners: string[] = [];
  if (agent.apiSocket !== null) listeners.push(`unix:${agent.apiSocket}`);
  if (agent.apiPort !== null) listeners.push(`127.0.0.1:${agent.apiPort} (bearer token in ${agent.apiTokenFile})`);
  return listeners;
}

await runCommand("edgefed-agent", agentHelp, main);
