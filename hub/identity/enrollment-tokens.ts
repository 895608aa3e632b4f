// Enrollment tokens: made by `edgefed-hub token create`, limited in uses and
// lifetime. The token is shown once; the registry keeps only its sha256, so
// every store backend holds hashes and nothing else. A use is spent only by a
// new node; a node re-registering its own key does not use the token up.
// Creating and revoking one is an audit record of who did it, committed with it.
import { appendAudit } from "../audit/audit-chain.ts";
import { DomainError } from "../errors.ts";
import { TOKEN_ID_LENGTH, type EnrollmentTokenRecord, type HubStore } from "../store/hub-store.ts";
import { hashSecret, randomSecret } from "./secrets.ts";

export const ENROLLMENT_TOKEN_PREFIX = "efe_";

export interface TokenOptions {
  /** null: unlimited. */
  uses: number | null;
  /** null: never expires. */
  ttlMs: number | null;
  label?: string;
  /** Who makes it (the audit trail's actor); "admin" when not said. */
  createdBy?: string;
}

/** What the registry looks a token up by. */
export function tokenHash(token: string): string {
  return hashSecret(token);
}

/** What the API names a token by: the start of its hash, which says nothing of the token. */
export function tokenId(hash: string): string {
  return hash.slice(0, TOKEN_ID_LENGTH);
}

/** A fresh token and the record the registry keeps of it. */
export function newEnrollmentToken(options: TokenOptions, now: number): { token: string; record: EnrollmentTokenRecord } {
  const token = ENROLLMENT_TOKEN_PREFIX + randomSecret(24);
  const record = {
    hash: tokenHash(token),
    label: options.label ?? "",
    usesLeft: options.uses,
    expiresAt: options.ttlMs === null ? null : now + options.ttlMs,
    createdAt: now,
    createdBy: options.createdBy ?? "admin",
  };
  return { token, record };
}

/** Creates a token in the registry and returns it: the one time it is seen. */
export async function createEnrollmentToken(store: HubStore, options: TokenOptions, now: number): Promise<string> {
  return (await issueEnrollmentToken(store, options, now)).token;
}

/** The same, with the record kept (the API answers with both). */
export async function issueEnrollmentToken(store: HubStore, options: TokenOptions, now: number): Promise<{ token: string; record: EnrollmentTokenRecord }> {
  const made = newEnrollmentToken(options, now);
  const { record } = made;
  await store.write(async (tx) => {
    await tx.tokens.add(record);
    await appendAudit(tx, {
      at: now,
      actor: record.createdBy,
      action: "token.create",
      subject: tokenId(record.hash),
      detail: { label: record.label, uses: record.usesLeft, expires_at: record.expiresAt },
    });
  });
  return made;
}

/** Revokes the token named by its id (TOKEN_ID_LENGTH hex of its hash): it enrols and re-registers nothing from now on. */
export async function revokeEnrollmentToken(store: HubStore, id: string, actor: string, now: number): Promise<void> {
  await store.write(async (tx) => {
    if (!(await tx.tokens.revoke(id, now))) throw new DomainError("not_found", "unknown_token", `no token ${id} that is not revoked already`);
    await appendAudit(tx, { at: now, actor, action: "token.revoke", subject: id, detail: {} });
  });
}

/** "90s", "30m", "12h", "7d" or plain seconds, in ms. */
export function parseTtl(text: string): number {
  const match = /^(\d+(?:\.\d+)?)([smhd]?)$/.exec(text.trim());
  if (!match) throw new Error(`--ttl: ${JSON.stringify(text)} is not a duration like 90s, 30m, 12h or 7d`);
  const unit = { "": 1, s: 1, m: 60, h: 3600, d: 86400 }[match[2] as "" | "s" | "m" | "h" | "d"];
  const ms = Number(match[1]) * unit * 1000;
  if (ms <= 0) throw new Error("--ttl: must be longer than 0");
  return ms;
}
