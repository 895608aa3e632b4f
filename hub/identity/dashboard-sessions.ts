// Dashboard login sessions (POST /api/session). The admin token opens an
// admin session, the hub's watch token a read-only viewer one. The browser
// gets an opaque random id in a cookie; the registry keeps only its sha256
// (a copy of the registry opens nothing) and the session's synchronizer CSRF
// token, which every state-changing request must echo. Ids and tokens never
// reach a log line.
import { DomainError } from "../errors.ts";
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
  private readonly adminDigest: Buffer;
  private readonly watchDigest: Buffer;

  constructor(
    private readonly store: HubStore,
    identity: HubIdentity,
    private readonly ttlMs: number,
    private readonly clock: () => number,
  ) {
    this.adminDigest = Buffer.from(identity.adminTokenHash, "hex");
    this.watchDigest = Buffer.from(identity.watchTokenHash, "hex");
  }

  /** The role a token logs in as, or undefined; both compared in constant time, neither short-circuits the other. */
  roleOf(token: string): SessionRole | undefined {
    const admin = secretMatchesDigest(token, this.adminDigest);
    const viewer = secretMatchesDigest(token, this.watchDigest);
    return admin ? "admin" : viewer ? "viewer" : undefined;
  }

  /** Opens a session for a token; an unknown one is refused without saying what was wrong. Prunes expired sessions in the same write. */
  async open(token: unknown): Promise<OpenedSession> {
    const role = typeof token === "string" ? this.roleOf(token) : undefined;
    if (!role) throw new DomainError("unauthorized", "unauthorized", "login refused");
    const now = this.clock();
    const id = randomSecret(32);
    const session: SessionRecord = { idHash: hashSecret(id), role, csrfToken: randomSecret(32), createdAt: now, expiresAt: now + this.ttlMs };
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
