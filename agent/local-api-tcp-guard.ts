// What the local API's TCP listener on 127.0.0.1 asks of every request before
// any route sees it (so nothing is judged or recorded without it): a Host
// header naming the listener itself, and the bearer token. Any process on the
// Pi can open a loopback port, so the token (in a file only the strategy's
// group may read) is what keeps other users' processes out. The Host check
// stops DNS rebinding: a web page whose name was made to resolve to
// 127.0.0.1 sends its own name as Host.
import type { MiddlewareHandler } from "hono";
import { bearerToken, secretChecker } from "../lib/bearer-token.ts";

/** `port()`: the port bound, known only once listening (0 picks one). */
export function tcpGuard(token: string, port: () => number): MiddlewareHandler {
  const tokenMatches = secretChecker(token);
  return async (c, next) => {
    const host = (c.req.header("host") ?? "").toLowerCase();
    if (host !== `127.0.0.1:${port()}` && host !== `localhost:${port()}`) {
      return c.json({ error: "forbidden_host", detail: `Host must be 127.0.0.1:${port()} or localhost:${port()}: the local API answers only on this machine` }, 403);
    }
    if (!tokenMatches(bearerToken(c.req.header("authorization")))) {
      const detail = "the local API on TCP needs Authorization: Bearer <the token in EDGEFED_API_TOKEN_FILE>";
      return c.json({ error: "unauthorized", detail }, 401, { "WWW-Authenticate": 'Bearer realm="edgefed-agent"' });
    }
    await next();
  };
}
