// The local intent API for strategy processes on the Pi (served on a Unix
// socket, and on 127.0.0.1 behind a bearer token when configured:
// local-api-server.ts):
// POST /v1/intents (one intent or an array) answers with verdicts, exactly
// once per intent id; POST /v1/closes records position closes for cooldown
// (all or none; one dated more than 60 s ahead of the clock is refused with
// FUTURE_CLOSE, as it would hold the symbol's entries until then);
// POST /v1/portfolio, /v1/health (one report each) and /v1/models (one or an
// array) record what the strategy reports about itself (protocol/reports.ts),
// all or none, a refused one answered 400 naming its field;
// GET /v1/status says how the agent is, GET /v1/metrics the same for a
// Prometheus scrape (text format, agent-metrics.ts). Errors follow the hub's convention
// (lib/http-errors.ts): `{error, detail}` with the status; a malformed body
// gets 400 naming what is wrong. An intent with bad fields gets a HOLD
// naming the field instead, as the kernel fails closed.
import { Hono, type Context, type MiddlewareHandler } from "hono";
import { CloseRefusedError } from "../kernel/intent-processor.ts";
import type { CloseEvent, JournaledVerdict } from "../kernel/types.ts";
import { errorHandler, HttpError, jsonBody, limitBody, routeNotFound } from "../lib/http-errors.ts";
import { MAX_MODELS_PER_NODE, type ReportKind } from "../protocol/reports.ts";
import { ReportRefusedError } from "./strategy-reports.ts";
import { AGENT_METRICS_CONTENT_TYPE } from "./agent-metrics.ts";

export const MAX_INTENTS_PER_REQUEST = 1000;
const MAX_BODY_BYTES = 1024 * 1024;

export interface LocalApiBackend {
  /** Judges intents exactly once each and queues their events for the hub. */
  submit(intents: unknown[]): Promise<JournaledVerdict[]>;
  /** Records closes all or none; throws CloseRefusedError naming the first it refuses (unusable, or FUTURE_CLOSE). */
  recordCloses(closes: CloseEvent[]): void;
  /** Records the strategy's reports of one kind, all or none; throws ReportRefusedError naming the first it refuses. */
  report(kind: ReportKind, reports: unknown[]): ReportOutcome;
  status(): object;
  /** The agent's metrics in Prometheus text format. */
  metrics(): string;
}

export interface ReportOutcome {
  recorded: number;
  /** Retries of a series' latest report, answered without recording them again. */
  duplicates: number;
}

const invalidBody = (detail: string) => new HttpError(400, "invalid_body", detail);

/** `guard`: run before anything else on every request (the TCP listener's Host and token check). */
export function createLocalApi(backend: LocalApiBackend, log: (line: string) => void = () => {}, guard?: MiddlewareHandler): Hono {
  const app = new Hono();
  if (guard) app.use("*", guard);
  app.use("*", limitBody(MAX_BODY_BYTES));
  app.onError(errorHandler("agent", log));
  app.notFound(routeNotFound);

  app.post("/v1/intents", async (c) => {
    const body = await jsonBody(c);
    const single = !Array.isArray(body);
    const intents = single ? [body] : (body as unknown[]);
    if (single && (typeof body !== "object" || body === null)) throw invalidBody("body: an intent object or an array of them");
    if (intents.length === 0) throw invalidBody("body: the array is empty");
    if (intents.length > MAX_INTENTS_PER_REQUEST) throw invalidBody(`body: at most ${MAX_INTENTS_PER_REQUEST} intents per request`);
    const verdicts = await backend.submit(intents);
    return c.json(single ? verdicts[0] : verdicts);
  });

  app.post("/v1/closes", async (c) => {
    const body = await jsonBody(c);
    const closes = (Array.isArray(body) ? body : [body]) as CloseEvent[];
    if (closes.length > MAX_INTENTS_PER_REQUEST) throw invalidBody(`body: at most ${MAX_INTENTS_PER_REQUEST} closes per request`);
    // All or none: a refused one (unusable, or dated in the future) leaves nothing half done.
    try {
      backend.recordCloses(closes.map((close) => ({ ...close, type: "close" })));
    } catch (error) {
      if (!(error instanceof CloseRefusedError)) throw error;
      throw new HttpError(400, "invalid_close", `${Array.isArray(body) ? `[${error.index}] ` : ""}${error.message}`);
    }
    return c.json({ recorded: closes.length });
  });

  /** A report route: `batch` takes an array too. */
  const reports = (kind: ReportKind, batch: boolean) => async (c: Context) => {
    const body = await jsonBody(c);
    const many = Array.isArray(body);
    if (many && !batch) throw invalidBody(`body: one ${kind} report, not an array`);
    const list = many ? (body as unknown[]) : [body];
    if (list.length === 0) throw invalidBody("body: the array is empty");
    // A batch reports the node's models, of which there are at most this many.
    if (list.length > MAX_MODELS_PER_NODE) throw invalidBody(`body: at most ${MAX_MODELS_PER_NODE} reports per request`);
    try {
      return c.json(backend.report(kind, list));
    } catch (error) {
      if (!(error instanceof ReportRefusedError)) throw error;
      throw new HttpError(400, `invalid_${kind}`, `${many ? `[${error.index}] ` : ""}${error.message}`);
    }
  };
  app.post("/v1/portfolio", reports("portfolio", false));
  app.post("/v1/health", reports("health", false));
  app.post("/v1/models", reports("models", true));

  app.get("/v1/status", (c) => c.json(backend.status()));
  app.get("/v1/metrics", (c) => c.body(backend.metrics(), 200, { "content-type": AGENT_METRICS_CONTENT_TYPE }));
  return app;
}
