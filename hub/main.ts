// edgefed-hub: `bun run hub [serve] [options]` runs the hub; `bun run hub
// token create` makes an enrollment token. Exit codes: 0 ok, 2 bad usage or
// settings, 1 failure.
import { runCommand, UsageError } from "../lib/command-line.ts";
import { createLogger, lineLog } from "../lib/logger.ts";
import { firstStopSignal } from "../lib/stop-signal.ts";
import { startHub, type RunningHub } from "./hub.ts";
import { describeSettings, hubHelp, parseHubSettings } from "./settings.ts";
import { createToken, tokenHelp } from "./token-command.ts";

async function serve(args: string[]): Promise<void> {
  const settings = parseHubSettings(args);
  const logger = createLogger("hub");
  // Listening before start-up (lib/stop-signal.ts says why).
  const stopSignal = firstStopSignal();
  logger.info({ settings: describeSettings(settings) }, "starting");
  let hub: RunningHub;
  try {
    hub = await startHub(settings, lineLog(logger));
  } catch (error) {
    logger.fatal(`start-up failed: ${(error as Error).message}`);
    process.exit(1);
  }
  // SIGHUP: a renewed or replaced certificate is served to new connections; open sessions stay.
  process.on("SIGHUP", () => {
    hub.reloadTls().catch((error: Error) => logger.error(`TLS reload failed (the old certificate stays): ${error.message}`));
  });
  logger.info(`${await stopSignal}: stopping`);
  await hub.stop();
  process.exit(0);
}

await runCommand("edgefed-hub", () => [hubHelp(), "", ...tokenHelp()].join("\n"), () => {
  const args = process.argv.slice(2);
  if (args[0] === "token") {
    if (args[1] !== "create") throw new UsageError([`token ${args[1] ?? ""}: the token command is \`token create\` (see --help)`]);
    return createToken(args.slice(2));
  }
  return serve(args[0] === "serve" ? args.slice(1) : args);
});
