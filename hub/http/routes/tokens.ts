// /api/federation/tokens (admin): enrollment tokens from the dashboard, as
// `edgefed-hub token create` makes them. POST creates one and answers it (the
// only time it is shown); GET lists them by id (the first 12 hex of the
// hash: never the token) with who made each; DELETE /:id revokes one, after
// which it enrols and re-registers nothing. Both are audited under the caller.
import { Hono } from "hono";
import { z } from "zod";
import { jsonBody } from "../../../lib/http-errors.ts";
import { invalidInput } from "../../errors.ts";
import type { HubContext } from "../../hub-context.ts";
import { issueEnrollmentToken, revokeEnrollmentToken, tokenId } from "../../identity/enrollment-tokens.ts";
import type { ListedToken } from "../../store/hub-store.ts";
import { actorOf, type ApiAccess } from "../admin-auth.ts";

const DEFAULT_TTL_S = 86_400;
const MAX_TOKENS_LISTED = 1000;

/** `uses` null: unlimited; `expires_in_s` null: never (both as the command line allows). */
const TokenRequest = z.strictObject({
  label: z.string().max(200).default(""),
  uses: z.int().min(1).nullable().default(1),
  expires_in_s: z.int().min(1).max(10 * 365 * 86_400).nullable().default(DEFAULT_TTL_S),
});

function listedView(token: ListedToken): object {
  return {
    id: token.id,
    label: token.label,
    uses_left: token.usesLeft,
    expires_at: token.expiresAt,
    created_at: token.createdAt,
    created_by: token.createdBy,
    registrations: token.registrations,
    revoked: token.revokedAt !== null,
    revoked_at: token.revokedAt,
  };
}

export function tokenRoutes(hub: HubContext, access: ApiAccess): Hono {
  const routes = new Hono();

  routes.get("/tokens", access.admin, async (c) => c.json({ tokens: (await hub.store.tokens.list(MAX_TOKENS_LISTED)).map(listedView) }));

  routes.post("/tokens", access.admin, async (c) => {
    const parsed = TokenRequest.safeParse(await jsonBody(c));
    if (!parsed.success) throw invalidInput(parsed.error.issues);
    const { label, uses, expires_in_s } = parsed.data;
    const now = hub.clock();
    const { token, record } = await issueEnrollmentToken(hub.store, { label, uses, ttlMs: expires_in_s === null ? null : expires_in_s * 1000, createdBy: actorOf(c) }, now);
    hub.log(`enrollment token ${tokenId(record.hash)} created from the API (${uses ?? "unlimited"} use(s))`);
    return c.json({ token, id: tokenId(record.hash), label, uses_left: record.usesLeft, expires_at: record.expiresAt, created_by: record.createdBy }, 201);
  });

  routes.delete("/tokens/:id", access.admin, async (c) => {
    const id = c.req.param("id");
    await revokeEnrollmentToken(hub.store, id, actorOf(c), hub.clock());
    hub.log(`enrollment token ${id} revoked from the API`);
    return c.json({ status: "revoked", id });
  });

  return routes;
}
