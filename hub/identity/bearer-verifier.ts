// Who a bearer token is: the hub's admin token (EDGEFED_ADMIN_TOKEN or the
// data dir's admin-token) or an operator's (efo_<id>_<secret>). Both are kept
// as scrypt verifiers (slow-hash.ts), ~20-60 ms a check, and the bearer check
// runs on every API read, so a token is checked once and the verdict cached
// in memory, keyed by the token's sha256, for a bounded time and number of
// tokens. An operator's cached verdict is confirmed on every use against the
// registry row (one primary-key read): revoked, or rotated to another
// verifier, and the old token is refused at once, also when the revoke came
// from `edgefed-hub operator revoke` in another process.
import { randomBytes } from "node:crypto";
import type { HubStore, OperatorRecord } from "../store/hub-store.ts";
import { randomSecret, secretDigest } from "./secrets.ts";
import { slowVerifierMatches } from "./slow-hash.ts";

export type OperatorRole = OperatorRecord["role"];

/** Who made a request, as the audit trail names them. */
export interface Principal {
  role: OperatorRole;
  /** An operator's name, or "admin" for the hub's admin token. */
  operator: string;
  /** null: the hub's admin token. */
  operatorId: string | null;
}

/** The actor name of the hub's own admin token. */
export const HUB_ADMIN = "admin";
const HUB_ADMIN_PRINCIPAL: Principal = Object.freeze({ role: "admin", operator: HUB_ADMIN, operatorId: null });

export const OPERATOR_TOKEN_PREFIX = "efo_";
const OPERATOR_TOKEN = /^efo_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;

/** A fresh operator id and its token (the id is public and in the token, so a check reads one row). */
export function newOperatorToken(id = randomBytes(6).toString("hex")): { id: string; token: string } {
  return { id, token: `${OPERATOR_TOKEN_PREFIX}${id}_${randomSecret(32)}` };
}

interface Verdict {
  principal: Principal | null;
  /** The operator's verifier the token matched: a rotation changes it. */
  verifier: string | null;
  until: number;
}

export interface VerifierOptions {
  /** How long a verdict is trusted before the token is checked with scrypt again. */
  ttlMs: number;
  /** Tokens remembered at most; the oldest goes first. */
  maxEntries: number;
}

export const DEFAULT_VERIFIER_OPTIONS: VerifierOptions = { ttlMs: 60_000, maxEntries: 1024 };

export class BearerVerifier {
  private readonly verdicts = new Map<string, Verdict>();
  /** Checks under way, so a burst of requests with a new token runs scrypt once. */
  private readonly checking = new Map<string, Promise<Verdict>>();

  constructor(
    private readonly store: Pick<HubStore, "operators">,
    private readonly adminVerifier: string,
    private readonly clock: () => number,
    private readonly options: VerifierOptions = DEFAULT_VERIFIER_OPTIONS,
  ) {}

  /**
   * The principal a token stands for, or undefined. Answers at once (no
   * promise) for the hub's admin token and for refused tokens already
   * checked: the common read costs a sha256 and a map lookup.
   */
  verify(token: string): Principal | undefined | Promise<Principal | undefined> {
    const key = secretDigest(token).toString("hex");
    const cached = this.verdicts.get(key);
    if (cached && cached.until > this.clock()) {
      if (!cached.principal) return undefined;
      if (cached.principal.operatorId === null) return cached.principal;
      return this.confirm(key, cached);
    }
    let pending = this.checking.get(key);
    if (!pending) {
      pending = this.check(token).finally(() => this.checking.delete(key));
      this.checking.set(key, pending);
    }
    return pending.then((verdict) => {
      this.remember(key, verdict);
      return verdict.principal ?? undefined;
    });
  }

  /** Forgets every verdict of an operator (revoked or rotated here: the registry read would refuse it anyway). */
  forget(operatorId: string): void {
    for (const [key, verdict] of this.verdicts) if (verdict.principal?.operatorId === operatorId) this.verdicts.delete(key);
  }

  private async confirm(key: string, cached: Verdict): Promise<Principal | undefined> {
    const row = await this.store.operators.get(cached.principal!.operatorId!);
    if (row && row.revokedAt === null && row.verifier === cached.verifier) return cached.principal!;
    this.verdicts.delete(key);
    return undefined;
  }

  private async check(token: string): Promise<Verdict> {
    const digest = secretDigest(token);
    const until = this.clock() + this.options.ttlMs;
    const operatorToken = OPERATOR_TOKEN.exec(token);
    if (operatorToken) {
      const row = await this.store.operators.get(operatorToken[1]!);
      if (row && row.revokedAt === null && (await slowVerifierMatches(digest, row.verifier))) {
        return { principal: { role: row.role, operator: row.name, operatorId: row.id }, verifier: row.verifier, until };
      }
      return { principal: null, verifier: null, until };
    }
    const admin = await slowVerifierMatches(digest, this.adminVerifier);
    return { principal: admin ? HUB_ADMIN_PRINCIPAL : null, verifier: null, until };
  }

  private remember(key: string, verdict: Verdict): void {
    this.verdicts.delete(key); // re-inserted last: the map's order is the eviction order
    this.verdicts.set(key, verdict);
    if (this.verdicts.size > this.options.maxEntries) this.verdicts.delete(this.verdicts.keys().next().value!);
  }
}
