// The hub's HTTP API (Hono). Handlers stay thin: parse, call a service, shape
// JSON. Errors leave as `{error, detail}` with their status.
import { Hono, type Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { z } from "zod";
import { MODES } from "../../kernel/types.ts";
import { jsonDepthProblem } from "../../lib/json-depth.ts";
import type { Decisions, IssuedDecision } from "../decisions/decisions.ts";
import type { HubContext } from "../hub-context.ts";
import type { Ingest } from "../ingest/ingest.ts";
import { HEALTH_STATES } from "../nodes/node-model.ts";
import { readmitNode, registerNode, removedError, removeNode } from "../nodes/registration.ts";
import { bearerToken, requireAdmin } from "./admin-auth.ts";
import { HttpError, invalidBody } from "./http-error.ts";
import { nodeDetail, nodeSummary } from "./node-view.ts";

const MAX_PAGE = 1000;
const bunVersion = (globalThis as { Bun?: { version: string } }).Bun?.version;
const RUNTIME = bunVersion ? `bun ${bunVersion}` : `node ${process.version}`;

const NodeListQuery = z.object({
  status: z.enum(HEALTH_STATES).optional(),
  capability: z.string().max(64).optional(),
  limit: z.coerce.number().int().min(1).max(MAX_PAGE).default(100),
  after: z.string().max(63).optional(),
});

const DecisionListQuery = z.object({
  limit: z.coerce.number().int().min(1).max(MAX_PAGE).default(50),
  node: z.string().max(63).optional(),
  before: z.coerce.number().int().min(1).optional(),
});

const ModeRequest = z.strictObject({
  mode: z.enum(MODES),
  target: z.string().max(63).default("fleet"),
  duration_s: z.number().positive().optional(),
  reason: z.string().max(512).optional(),
  expires_in_s: z.int().min(1).optional(),
});

async function jsonBody(c: Context): Promise<unknown> {
  if (!(c.req.header("content-type") ?? "").toLowerCase().startsWith("application/json")) {
    throw new HttpError(415, "unsupported_media_type", "send the body as Content-Type: application/json");
  }
  const text = await c.req.text();
  const tooDeep = jsonDepthProblem(text);
  if (tooDeep) throw new HttpError(400, "json_too_deep", tooDeep);
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, "invalid_json", "the body is not valid JSON");
  }
}

function issuedView(issued: IssuedDecision): object {
  return { ...issued.decision, targets: issued.targets, published: issued.published };
}

function query<T extends z.ZodType>(schema: T, c: Context): z.infer<T> {
  const parsed = schema.safeParse(c.req.query());
  if (!parsed.success) throw invalidBody(parsed.error.issues);
  return parsed.data;
}

export function createHubApp(hub: HubContext, decisions: Decisions, ingest: Ingest): Hono {
  const app = new Hono();
  const admin = requireAdmin(hub.identity.adminTokenHash);
  /** A node id that is not registered: 410 while it is removed (until readmitted), else 404. */
  const notRegistered = (id: string): HttpError => {
    const tombstone = hub.registry.tombstones.standing(id);
    return tombstone ? removedError(tombstone, 410) : new HttpError(404, "unknown_node", `no registered node ${id}`);
  };

  const limitBody = bodyLimit({
    maxSize: hub.settings.maxBodyBytes,
    onError: (c) => c.json({ error: "payload_too_large", detail: `request bodies are limited to ${hub.settings.maxBodyBytes} bytes` }, 413),
  });
  // Reads carry no body; skipping the limit keeps the busiest route lean.
  app.use("*", (c, next) => (c.req.method === "GET" || c.req.method === "HEAD" ? next() : limitBody(c, next)));

  app.onError((error, c) => {
    if (error instanceof HttpError) return c.json({ error: error.error, detail: error.detail }, error.status);
    hub.log(`internal error on ${c.req.method} ${c.req.path}: ${error.message}`);
    return c.json({ error: "internal_error", detail: "the hub failed to handle this request; see its log" }, 500);
  });
  app.notFound((c) => c.json({ error: "not_found", detail: `no route ${c.req.method} ${c.req.path}` }, 404));

  app.get("/health", (c) => {
    const broker = hub.brokerConnected() && hub.broker.healthy;
    let store = true;
    try {
      hub.registry.db.prepare("SELECT 1").get();
    } catch {
      store = false;
    }
    const ok = broker && store;
    return c.json({ status: ok ? "ok" : "degraded", broker: broker ? "up" : "down", store: store ? "up" : "down", runtime: RUNTIME, uptime_s: Math.round((hub.clock() - hub.startedAt) / 1000) }, ok ? 200 : 503);
  });

  app.post("/federation/register", async (c) => {
    const result = await registerNode(hub, bearerToken(c.req.header("authorization")), await jsonBody(c), c.req.header("host"));
    return c.json(result.body, result.created ? 201 : 200);
  });

  app.get("/federation/nodes", admin, (c) => {
    const q = query(NodeListQuery, c);
    const matching = [...hub.fleet.all()]
      .filter((n) => (q.status ? n.health === q.status : true) && (q.capability ? n.capabilities.includes(q.capability) : true))
      .sort((a, b) => (a.nodeId < b.nodeId ? -1 : 1));
    const start = q.after ? matching.findIndex((n) => n.nodeId > q.after!) : 0;
    const page = start < 0 ? [] : matching.slice(start, start + q.limit);
    const last = page.at(-1);
    const more = start >= 0 && start + q.limit < matching.length;
    return c.json({ nodes: page.map(nodeSummary), total: matching.length, next_after: more && last ? last.nodeId : null });
  });

  app.get("/federation/nodes/:id", admin, (c) => {
    const node = hub.fleet.get(c.req.param("id"));
    if (!node) throw notRegistered(c.req.param("id"));
    return c.json(nodeDetail(node, hub.fleet, decisions.desiredPolicy(node.nodeId)?.version ?? null));
  });

  app.delete("/federation/nodes/:id", admin, async (c) => {
    const id = c.req.param("id");
    const outcome = await removeNode(hub, id, decisions);
    if (outcome !== "removed") throw notRegistered(id);
    return c.json({ status: "removed", node_id: id });
  });

  // Lifts a removal: the node may register again (with the key it had, without spending a token use).
  app.post("/federation/nodes/:id/readmit", admin, async (c) => {
    const id = c.req.param("id");
    if (!(await readmitNode(hub, id))) {
      const why = hub.fleet.get(id) ? "it is registered" : hub.registry.tombstones.get(id) ? "it was readmitted already and may register" : "no node by that id was removed";
      throw new HttpError(404, "not_removed", `${id} has nothing to readmit: ${why}`);
    }
    return c.json({ status: "readmitted", node_id: id });
  });

  app.get("/api/federation/status", admin, (c) =>
    c.json({
      nodes: { total: hub.fleet.size, by_health: hub.fleet.countsByHealth(), removed: hub.registry.tombstones.count() },
      decisions: { total: hub.registry.decisions.count() },
      ingest: ingest.stats(),
      broker: hub.brokerConnected() ? "up" : "down",
      uptime_s: Math.round((hub.clock() - hub.startedAt) / 1000),
      started_at: hub.startedAt,
    }),
  );

  app.post("/api/federation/decisions", admin, async (c) => {
    return c.json(issuedView(await decisions.issue(await jsonBody(c))), 201);
  });

  app.get("/api/federation/decisions", admin, (c) => {
    const q = query(DecisionListQuery, c);
    return c.json({ decisions: decisions.list({ limit: q.limit, node: q.node, beforeSeq: q.before }) });
  });

  app.post("/api/federation/mode", admin, async (c) => {
    const parsed = ModeRequest.safeParse(await jsonBody(c));
    if (!parsed.success) throw invalidBody(parsed.error.issues);
    const { mode, target, duration_s, reason, expires_in_s } = parsed.data;
    const payload: Record<string, unknown> = { mode };
    if (duration_s !== undefined) payload.duration_s = duration_s;
    if (reason !== undefined) payload.reason = reason;
    return c.json(issuedView(await decisions.issue({ type: "MODE_CHANGE", target, payload, expires_in_s })), 201);
  });

  return app;
}
