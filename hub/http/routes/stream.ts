// GET /api/stream (reader): the dashboard's live updates as server-sent
// events (live-feed.ts says what is sent): `node`, `decision` and `alert`
// events, a `: ping` comment every PING_MS, and the end of the stream when
// the session that opened it expires. Each client has its own bounded queue
// (stream-client.ts): one that stops reading is dropped, the hub goes on.
import { Hono } from "hono";
import { getCookie } from "hono/cookie";
import { streamSSE } from "hono/streaming";
import type { DashboardSessions } from "../../identity/dashboard-sessions.ts";
import { SESSION_COOKIE, type ApiAccess } from "../admin-auth.ts";
import type { LiveEvent, LiveFeed } from "../live-feed.ts";
import { StreamClient } from "../stream-client.ts";

export const PING_MS = 15_000;
/** Events a client may fall behind before it is dropped: a burst of a 10,000-node fleet's changes coalesce to far fewer a second. */
export const MAX_QUEUED_EVENTS = 10_000;
const PING = "ping" as const;

export function streamRoutes(access: ApiAccess, sessions: DashboardSessions, feed: LiveFeed, clock: () => number): Hono {
  const routes = new Hono();

  routes.get("/stream", access.reader, async (c) => {
    // A bearer (a script) streams until it leaves; a session until it expires.
    const session = c.req.header("authorization") === undefined ? await sessions.find(getCookie(c, SESSION_COOKIE)) : undefined;
    // Bun closes a connection idle for 10 s by default: this one is quiet between pings on purpose.
    (c.env as { timeout?: (request: Request, seconds: number) => void } | undefined)?.timeout?.(c.req.raw, 0);
    return streamSSE(c, async (stream) => {
      const client = new StreamClient<LiveEvent | typeof PING>(MAX_QUEUED_EVENTS);
      const unsubscribe = feed.subscribe((event) => client.push(event));
      stream.onAbort(() => client.close("the client went away"));
      const ping = setInterval(() => client.push(PING), PING_MS);
      const expiry = session ? setTimeout(() => client.close("the session expired"), Math.max(0, session.expiresAt - clock())) : undefined;
      try {
        await stream.write(": connected\n\n");
        await client.pump((event) => (event === PING ? stream.write(": ping\n\n") : stream.writeSSE(event)));
      } finally {
        unsubscribe();
        clearInterval(ping);
        clearTimeout(expiry);
        if (!stream.aborted) stream.abort(); // a dropped client's pending write ends here, not with the hub
      }
    });
  });

  return routes;
}
