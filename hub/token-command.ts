// `edgefed-hub token create`: makes an enrollment token in the registry the
// hub uses (the same data dir default as the hub's, so the running hub knows
// it) and prints it once; the registry keeps only its hash.
import { text, wholeNumber } from "../lib/setting-values.ts";
import { parseSettings, settingsHelp, type Checked, type SettingsTable } from "../lib/settings.ts";
import { DATA_DIR_SETTING, DATABASE_URL_SETTING } from "./settings.ts";
import { createEnrollmentToken, parseTtl } from "./identity/enrollment-tokens.ts";
import { openHubStore } from "./store/open-hub-store.ts";

interface TokenRequest {
  uses: number;
  /** null: never expires. */
  ttlMs: number | null;
  label: string;
  dataDir: string;
  databaseUrl: string;
}

function ttl(raw: string): Checked<number | null> {
  if (raw === "never") return { value: null };
  try {
    return { value: parseTtl(raw) };
  } catch (error) {
    // parseTtl names the flag itself; the engine adds where the value came from.
    return { problem: (error as Error).message.replace(/^--ttl: /, "") };
  }
}

const TOKEN_SETTINGS: SettingsTable<TokenRequest> = [
  { key: "uses", flag: "uses", parse: wholeNumber(1), value: "N", default: "1", help: "nodes that may register with it" },
  { key: "ttlMs", flag: "ttl", parse: ttl, value: "DURATION", default: "1d", help: "valid this long: 90s, 30m, 12h, 7d, or never" },
  { key: "label", flag: "label", parse: text, value: "TEXT", default: "", help: "a note kept with the token" },
  DATA_DIR_SETTING,
  DATABASE_URL_SETTING,
];

export function tokenHelp(): string[] {
  return ["token create options:", ...settingsHelp(TOKEN_SETTINGS)];
}

/** Creates the token asked for by `args` (options only) and prints it on stdout, what it allows on stderr. */
export async function createToken(args: string[], env: Record<string, string | undefined> = process.env): Promise<void> {
  const request = parseSettings(TOKEN_SETTINGS, args, env);
  const store = await openHubStore(request);
  const now = Date.now();
  const token = await createEnrollmentToken(store, { uses: request.uses, ttlMs: request.ttlMs, label: request.label }, now);
  await store.close();
  const expiry = request.ttlMs === null ? "never expires" : `expires ${new Date(now + request.ttlMs).toISOString()}`;
  console.error(`enrollment token for ${request.uses} node(s), ${expiry} (shown once; the hub keeps only its hash):`);
  console.log(token);
}
