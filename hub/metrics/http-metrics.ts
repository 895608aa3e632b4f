// Hono middleware that times every HTTP request into
// edgefed_http_request_duration_seconds, labelled by the route's pattern
// (`/federation/nodes/:id`), never the raw path: one series per route, not
// one per node id or typo a client sends.
import type { MiddlewareHandler } from "hono";
import { routePath } from "hono/route";

/** The label of a request no route answered (404). */
export const UNMATCHED_ROUTE = "unmatched";

export function measureHttp(observe: (method: string, route: string, status: number, seconds: number) => void): MiddlewareHandler {
  return async (c, next) => {
    const started = performance.now();
    await next();
    // The last route matched is the one that answered; only middleware ("/*") matched: nothing did.
    const pattern = routePath(c, -1);
    const route = pattern === "/*" || pattern === "*" ? UNMATCHED_ROUTE : pattern;
    observe(c.req.method, route, c.res.status, (performance.now() - started) / 1000);
  };
}
