// `edgefed-hub token create|list|revoke`: enrollment tokens in the registry
// the hub uses (the same data dir default as the hub's, so the running hub
// knows them at once). create prints the token once (the registry keeps only
// its hash); list shows them by id with who made them; revoke stops one from
// enrolling or re-registering anything. create and revoke are audited under
// the system user (cli:<user>).
import { text, wholeNumber } from "../lib/setting-values.ts";
import { parseSettings, settingsHelp, type Checked, type SettingsTable } from "../lib/settings.ts";
import { DATA_DIR_SETTING, DATABASE_URL_SETTING } from "./settings.ts";
import { cliActor } from "./audit/cli-actor.ts";
import { parseWithSubject } from "./command-subject.ts";
import { createEnrollmentToken, parseTtl, revokeEnrollmentToken } from "./identity/enrollment-tokens.ts";
import { openHubStore } from "./store/open-hub-store.ts";
import type { HubStore, ListedToken } from "./store/hub-store.ts";

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

/** Where the registry is: the data dir's SQLite, or PostgreSQL when EDGEFED_DATABASE_URL is set (every registry command takes both). */
export const REGISTRY_SETTINGS: SettingsTable<{ dataDir: string; databaseUrl: string }> = [DATA_DIR_SETTING, DATABASE_URL_SETTING];
const MAX_LISTED = 1000;

export function tokenHelp(): string[] {
  return [
    "token create options:",
    ...settingsHelp(TOKEN_SETTINGS),
    "token list: every enrollment token, newest first (id, label, uses left, expiry, created by, state)",
    "token revoke ID: the token enrols and re-registers nothing from now on",
    ...settingsHelp(REGISTRY_SETTINGS),
  ];
}

/** Runs `work` on the registry (the data dir's, or PostgreSQL's when a database URL is set), and closes it. */
export async function withRegistry<T>(settings: { dataDir: string; databaseUrl?: string }, work: (store: HubStore) => Promise<T>): Promise<T> {
  const store = await openHubStore(settings);
  try {
    return await work(store);
  } finally {
    await store.close();
  }
}

const when = (ms: number | null, none: string) => (ms === null ? none : new Date(ms).toISOString());

function tokenLine(token: ListedToken): string {
  const state = token.revokedAt !== null ? `revoked ${when(token.revokedAt, "")}` : token.expiresAt !== null && token.expiresAt <= Date.now() ? "expired" : "usable";
  const uses = token.usesLeft === null ? "unlimited" : String(token.usesLeft);
  return [token.id, JSON.stringify(token.label), `uses left ${uses}`, `expires ${when(token.expiresAt, "never")}`, `by ${token.createdBy || "?"}`, state].join("  ");
}

/** Prints every token, one a line (never a token nor its whole hash). */
export async function listTokens(args: string[], env: Record<string, string | undefined> = process.env): Promise<void> {
  const tokens = await withRegistry(parseSettings(REGISTRY_SETTINGS, args, env), (store) => store.tokens.list(MAX_LISTED));
  for (const token of tokens) console.log(tokenLine(token));
  if (tokens.length === 0) console.error("no enrollment tokens");
}

export async function revokeToken(args: string[], env: Record<string, string | undefined> = process.env): Promise<void> {
  const { subject: id, settings } = parseWithSubject(REGISTRY_SETTINGS, args, env, "token revoke", "token id (from token list)");
  await withRegistry(settings, (store) => revokeEnrollmentToken(store, id, cliActor(), Date.now()));
  console.error(`enrollment token ${id} revoked: it enrols and re-registers nothing from now on`);
}

/** Creates the token asked for by `args` (options only) and prints it on stdout, what it allows on stderr. */
export async function createToken(args: string[], env: Record<string, string | undefined> = process.env): Promise<void> {
  const request = parseSettings(TOKEN_SETTINGS, args, env);
  const store = await openHubStore(request);
  const now = Date.now();
  const token = await createEnrollmentToken(store, { uses: request.uses, ttlMs: request.ttlMs, label: request.label, createdBy: cliActor() }, now);
  await store.close();
  const expiry = request.ttlMs === null ? "never expires" : `expires ${new Date(now + request.ttlMs).toISOString()}`;
  console.error(`enrollment token for ${request.uses} node(s), ${expiry} (shown once; the hub keeps only its hash):`);
  console.log(token);
}
