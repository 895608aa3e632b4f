// edgefed-hub: `bun run hub [serve] [options]` runs the hub; `bun run hub
// token create|list|revoke` manages enrollment tokens, `operator
// create|list|revoke|rotate` named admin and viewer tokens, and `audit
// verify` checks the audit trail, all on the data dir's registry. Exit codes:
// 0 ok, 2 bad usage or settings, 1 failure (a broken audit trail too).
import { runCommand, UsageError } from "../lib/command-line.ts";
import { createLogger, lineLog } from "../lib/logger.ts";
import { firstStopSignal } from "../lib/stop-signal.ts";
import { startHub, type RunningHub } from "./hub.ts";
import { describeSettings, hubHelp, parseHubSettings } from "./settings.ts";
import { DomainError } from "./errors.ts";
import { auditCommand, auditHelp } from "./audit-command.ts";
import { operatorCommand, operatorHelp } from "./operator-command.ts";
import { createToken, listTokens, revokeToken, tokenHelp } from "./token-command.ts";

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

/** A registry command refused in the domain's terms (no such operator, a name taken): one line and exit 1, no stack. */
function saying<A extends unknown[]>(command: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return (...args) =>
    command(...args).catch((error: unknown) => {
      if (!(error instanceof DomainError)) throw error;
      process.stderr.write(`edgefed-hub: ${error.detail}\n`);
      process.exitCode = 1;
    });
}

const TOKEN_COMMANDS: Record<string, (args: string[]) => Promise<void>> = { create: createToken, list: listTokens, revoke: revokeToken };

await runCommand("edgefed-hub", () => [hubHelp(), "", ...tokenHelp(), "", ...operatorHelp(), "", ...auditHelp()].join("\n"), () => {
  const args = process.argv.slice(2);
  if (args[0] === "token") {
    const command = TOKEN_COMMANDS[args[1] ?? ""];
    if (!command) throw new UsageError([`token ${args[1] ?? ""}: the token commands are create, list and revoke (see --help)`]);
    return saying(command)(args.slice(2));
  }
  if (args[0] === "operator") return saying(operatorCommand)(args.slice(1));
  if (args[0] === "audit") return auditCommand(args.slice(1));
  return serve(args[0] === "serve" ? args.slice(1) : args);
});
