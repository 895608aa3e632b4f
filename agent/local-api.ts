// The local intent API for strategy processes on the Pi, on 127.0.0.1 only:
// POST /v1/intents (one intent or an array) answers with verdicts, exactly
// once per intent id; POST /v1/closes records position closes for cooldown
// (all or none; one dated more than 60 s ahead of the clock is refused with
// FUTURE_CLOSE, as it would hold the symbol's entries until then);
// GET /v1/status says how the agent is. A malformed body gets 400 naming
// what is wrong; an intent with bad fields gets a HOLD naming the field, as
// the kernel fails closed.
import { Hono, type Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { CloseRefusedError } from "../kernel/intent-processor.ts";
import type { CloseEvent, JournaledVerdict } from "../kernel/types.ts";
import { jsonDepthProblem } from "../lib/json-depth.ts";

export const MAX_INTENTS_PER_REQUEST = 1000;
const MAX_BODY_BYTES = 1024 * 1024;

export interface LocalApiBackend {
  /** Judges intents exactly once each and queues their events for the hub. */
  submit(intents: unknown[]): Promise<JournaledVerdict[]>;
  /** Records closes all or none; throws CloseRefusedError naming the first it refuses (unusable, or FUTURE_CLOSE). */
  recordCloses(closes: CloseEvent[]): void;
  status(): object;
}

function problem(c: Context, status: 400 | 413 | 415, error: string, detail: string) {
  return c.json({ error, detail }, status);
}

async function jsonBody(c: Context): Promise<{ ok: true; value: unknown } | { ok: false; response: Response }> {
  if (!(c.req.header("content-type") ?? "").toLowerCase().startsWith("application/json")) {
    return { ok: false, response: problem(c, 415, "unsupported_media_type", "send Content-Type: application/json") };
  }
  const text = await c.req.text();
  const tooDeep = jsonDepthProblem(text);
  if (tooDeep) return { ok: false, response: problem(c, 400, "json_too_deep", tooDeep) };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false, response: problem(c, 400, "invalid_json", "the body is not valid JSON") };
  }
}

export function createLocalApi(backend: LocalApiBackend): Hono {
  const app = new Hono();
  app.use("*", bodyLimit({ maxSize: MAX_BODY_BYTES, onError: (c) => problem(c, 413, "payload_too_large", `bodies are limited to ${MAX_BODY_BYTES} bytes`) }));
  app.onError((error, c) => c.json({ error: "internal_error", detail: error.message }, 500));

  app.post("/v1/intents", async (c) => {
    const body = await jsonBody(c);
    if (!body.ok) return body.response;
    const single = !Array.isArray(body.value);
    const intents = single ? [body.value] : (body.value as unknown[]);
    if (single && (typeof body.value !== "object" || body.value === null)) return problem(c, 400, "invalid_body", "body: an intent object or an array of them");
    if (intents.length === 0) return problem(c, 400, "invalid_body", "body: the array is empty");
    if (intents.length > MAX_INTENTS_PER_REQUEST) return problem(c, 400, "invalid_body", `body: at most ${MAX_INTENTS_PER_REQUEST} intents per request`);
    const verdicts = await backend.submit(intents);
    return c.json(single ? verdicts[0] : verdicts);
  });

  app.post("/v1/closes", async (c) => {
    const body = await jsonBody(c);
    if (!body.ok) return body.response;
    const closes = (Array.isArray(body.value) ? body.value : [body.value]) as CloseEvent[];
    if (closes.length > MAX_INTENTS_PER_REQUEST) return problem(c, 400, "invalid_body", `body: at most ${MAX_INTENTS_PER_REQUEST} closes per request`);
    // All or none: a refused one (unusable, or dated in the future) leaves nothing half done.
    try {
      backend.recordCloses(closes.map((close) => ({ ...close, type: "close" })));
    } catch (error) {
      if (!(error instanceof CloseRefusedError)) throw error;
      return problem(c, 400, "invalid_close", `${Array.isArray(body.value) ? `[${error.index}] ` : ""}${error.message}`);
    }
    return c.json({ recorded: closes.length });
  });

  app.get("/v1/status", (c) => c.json(backend.status()));
  app.notFound((c) => c.json({ error: "not_found", detail: `no route ${c.req.method} ${c.req.path}` }, 404));
  return app;
}
