// edgefed-hub: `bun run hub [options]` runs the hub; `bun run hub token create`
// makes an enrollment token. Exit codes: 0 ok, 2 bad usage or settings, 1 failure.
import { startHub } from "./hub.ts";
import { describeSettings, hubHelp, parseHubSettings, SettingsError } from "./settings.ts";
import { createEnrollmentToken, parseTtl } from "./identity/enrollment-tokens.ts";
import { openHubStore } from "./store/open-hub-store.ts";
import { firstStopSignal } from "../lib/stop-signal.ts";

function fail(message: string, code = 2): never {
  console.error(`edgefed-hub: ${message}`);
  process.exit(code);
}

function takeOption(args: string[], name: string): string | undefined {
  const i = args.findIndex((a) => a === name || a.startsWith(`${name}=`));
  if (i < 0) return undefined;
  const [arg] = args.splice(i, 1) as [string];
  if (arg.includes("=")) return arg.slice(name.length + 1);
  const [value] = args.splice(i, 1);
  if (value === undefined) fail(`${name}: needs a value`);
  return value;
}

async function createToken(args: string[]): Promise<void> {
  const usesText = takeOption(args, "--uses");
  const ttlText = takeOption(args, "--ttl");
  const label = takeOption(args, "--label") ?? "";
  const uses = usesText === undefined ? 1 : Number(usesText);
  if (!Number.isInteger(uses) || uses < 1) fail(`--uses: ${JSON.stringify(usesText)} is not a whole number of at least 1`);
  let ttlMs: number | null = 24 * 3600_000;
  try {
    if (ttlText !== undefined) ttlMs = ttlText === "never" ? null : parseTtl(ttlText);
  } catch (error) {
    fail((error as Error).message);
  }
  const settings = parseHubSettings(args);
  const store = await openHubStore(settings);
  const token = await createEnrollmentToken(store, { uses, ttlMs, label }, Date.now());
  await store.close();
  const expiry = ttlMs === null ? "never expires" : `expires ${new Date(Date.now() + ttlMs).toISOString()}`;
  console.error(`enrollment token for ${uses} node(s), ${expiry} (shown once; the hub keeps only its hash):`);
  console.log(token);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args.includes("--help") || args.includes("-h")) {
    console.log(hubHelp());
    return;
  }
  try {
    if (args[0] === "token") {
      if (args[1] !== "create") fail("usage: edgefed-hub token create [--uses N] [--ttl 1d] [--label text]");
      await createToken(args.slice(2));
      return;
    }
    if (args[0] === "serve") args.shift();
    const settings = parseHubSettings(args);
    // Listening before start-up (lib/stop-signal.ts says why).
    const stopSignal = firstStopSignal();
    console.log(`[hub] starting with ${JSON.stringify(describeSettings(settings))}`);
    const hub = await startHub(settings);
    console.log(`[hub] ${await stopSignal}: stopping`);
    await hub.stop();
    process.exit(0);
  } catch (error) {
    if (error instanceof SettingsError) fail(error.message);
    fail((error as Error).message, 1);
  }
}

await main();
