// Dashboard login sessions (POST /api/session). The admin token opens an
// admin session, the hub's watch token a read-only viewer one, an operator's
// token a session of its role, named after it (its actions are audited under
// that name; revoking or rotating the operator ends it). The browser
// gets an opaque random id in a cookie; the registry keeps only its sha256
// (a copy of the registry opens nothing) and the session's synchronizer CSRF
// token, which every state-changing request must echo. Ids and tokens never
// reach a log line.
import { DomainError } from "../errors.ts";
import type { BearerVerifier, Principal } from "./bearer-verifier.ts";
import type { HubIdentity } from "./hub-identity.ts";
import { hashSecret, randomSecret, secretMatchesDigest } from "./secrets.ts";
import type { HubStore, SessionRecord } from "../store/hub-store.ts";

export type SessionRole = SessionRecord["role"];

export interface OpenedSession {
  /** The opaque id for the cookie: seen here only. */
  id: string;
  session: SessionRecord;
}

export class DashboardSessions {
  private readonly watchDigest: Buffer;

  constructor(
    private readonly store: HubStore,
    identity: HubIdentity,
    private readonly verifier: BearerVerifier,
    private readonly ttlMs: number,
    private readonly clock: () => number,
  ) {
    this.watchDigest = Buffer.from(identity.watchTokenHash, "hex");
  }

  /** Who a token logs in as, or undefined: the watch token (a viewer), else what the bearer check says of it. */
  async principalOf(token: string): Promise<Principal | undefined> {
    if (secretMatchesDigest(token, this.watchDigest)) return { role: "viewer", operator: "watch", operatorId: null };
    return this.verifier.verify(token);
  }

  /** Opens a session for a token; an unknown one is refused without saying what was wrong. Prunes expired sessions in the same write. */
  async open(token: unknown): Promise<OpenedSession> {
    const principal = typeof token === "string" ? await this.principalOf(token) : undefined;
    if (!principal) throw new DomainError("unauthorized", "unauthorized", "login refused");
    const now = this.clock();
    const id = randomSecret(32);
    const session: SessionRecord = {
      idHash: hashSecret(id),
      role: principal.role,
      operator: principal.operator,
      operatorId: principal.operatorId,
      csrfToken: randomSecret(32),
      createdAt: now,
      expiresAt: now + this.ttlMs,
    };
    await this.store.write(async (tx) => {
      await tx.sessions.prune(now);
      await tx.sessions.add(session);
    });
    return { id, session };
  }

  /** The live session a cookie's id names, or undefined (none, unknown or expired). */
  async find(id: string | undefined): Promise<SessionRecord | undefined> {
    if (!id) return undefined;
    return this.store.sessions.get(hashSecret(id), this.clock());
  }

  async close(session: SessionRecord): Promise<void> {
    await this.store.write((tx) => tx.sessions.delete(session.idHash));
  }

  /** Whether `presented` is the session's CSRF token (constant time). */
  csrfMatches(session: SessionRecord, presented: string | undefined): boolean {
    return secretMatchesDigest(presented, Buffer.from(hashSecret(session.csrfToken), "hex"));
  }
}
