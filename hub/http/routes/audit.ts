// GET /api/federation/audit (admin): the audit trail, newest first, paged by
// `before` (the seq the last page ended at), each record with the hash of the
// one before and its own (hub/audit/audit-chain.ts; `edgefed-hub audit
// verify` checks the chain).
import { Hono } from "hono";
import { z } from "zod";
import type { HubContext } from "../../hub-context.ts";
import type { AuditRecord } from "../../store/hub-store.ts";
import type { ApiAccess } from "../admin-auth.ts";
import { parseQuery } from "../request.ts";

const AuditQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  before: z.coerce.number().int().min(1).optional(),
});

function auditView(record: AuditRecord): object {
  const { seq, at, actor, action, subject, detail, prevHash, hash } = record;
  return { seq, at, actor, action, subject, detail, prev_hash: prevHash, hash };
}

export function auditRoutes(hub: HubContext, access: ApiAccess): Hono {
  const routes = new Hono();
  routes.get("/audit", access.admin, async (c) => {
    const q = parseQuery(AuditQuery, c);
    const page = await hub.store.audit.before(q.before, q.limit);
    const last = page.at(-1);
    return c.json({ records: page.map(auditView), next_before: page.length === q.limit && last && last.seq > 1 ? last.seq : null });
  });
  return routes;
}
