// Rate limits on the HTTP API: a token bucket per key (lib/token-bucket.ts)
// as Hono middleware that can go on any route. Past its burst a key gets 429
// `{error: "rate_limited", detail}` with Retry-After (seconds), and the hit is
// counted in edgefed_rate_limited_total{limit}.
//
// The hub's limits (settings EDGEFED_RATE_*):
// - register: POST /federation/register per source address;
// - login: POST /api/session per source address, refused attempts only;
// - admin: every admin route per token, keyed by the token's hash (never the
//   token), after the token was checked, so only real tokens get a bucket.
// A per-address limit keys on the socket's address, an IPv6 one by its /64 (source-address.ts).
import type { Context, MiddlewareHandler } from "hono";
import type { HubContext } from "../hub-context.ts";
import { hashSecret } from "../identity/secrets.ts";
import { TokenBuckets, type BucketRate } from "../../lib/token-bucket.ts";
import { bearerToken } from "../../lib/bearer-token.ts";
import { addressKey, sourceAddress } from "./source-address.ts";
import { TrustedProxies } from "./trusted-proxies.ts";

export type HttpLimit = "register" | "login" | "admin";

export interface RateLimitOptions {
  /** The label in edgefed_rate_limited_total. */
  limit: string;
  rate: BucketRate;
  /** Whose bucket a request spends from. */
  keyOf(c: Context): string;
  /** What is limited, for the 429's detail ("registration attempts from this address"). */
  what: string;
  /** Called with `limit` on each refusal (the metric). */
  onLimited(limit: string): void;
  clock(): number;
  /** Whether an answered request counts against its key (default: every one); one that does not gets its token back. */
  counts?(status: number): boolean;
}

/** Not async on purpose: it runs before every admin read, and an extra await per request shows. */
export function rateLimit(options: RateLimitOptions): MiddlewareHandler {
  const buckets = new TokenBuckets(options.rate);
  const counts = options.counts;
  return (c, next) => {
    const key = options.keyOf(c);
    const take = buckets.take(key, options.clock());
    if (take.allowed && !counts) return next();
    if (take.allowed)
      return next().then(() => {
        if (!counts!(c.res.status)) buckets.refund(key);
      });
    options.onLimited(options.limit);
    const seconds = Math.max(1, Math.ceil(take.retryAfterMs / 1000));
    return Promise.resolve(
      c.json({ error: "rate_limited", detail: `too many ${options.what} (${options.rate.burst} at once, then ${options.rate.perSecond}/s); try again in ${seconds} s` }, 429, {
        "retry-after": String(seconds),
      }),
    );
  };
}

/**
 * Whose admin bucket a request spends from: its bearer token's hash (never
 * the token), else the hash of its Cookie header (a dashboard session, once
 * sessions exist: one browser, one bucket).
 */
export function credentialKey(c: Context): string {
  const token = bearerToken(c.req.header("authorization"));
  if (token !== undefined) return `token:${hashSecret(token)}`;
  const cookie = c.req.header("cookie");
  return cookie ? `cookie:${hashSecret(cookie)}` : "none";
}

/** The hub's HTTP limits, from its settings: `app.ts` puts each on its routes. */
export function hubRateLimits(hub: HubContext): Record<HttpLimit, MiddlewareHandler> {
  const { settings, metrics, clock } = hub;
  const proxies = new TrustedProxies(settings.trustedProxies);
  const bySource = (c: Context) => addressKey(sourceAddress(c, proxies));
  const common = { onLimited: (limit: string) => metrics.rateLimited(limit), clock };
  return {
    register: rateLimit({ ...common, limit: "register", rate: { burst: settings.registerBurst, perSecond: settings.registerPerS }, keyOf: bySource, what: "registration attempts from this address" }),
    // Only refused logins count: an operator logging in again and again is not guessing tokens.
    login: rateLimit({ ...common, limit: "login", rate: { burst: settings.loginBurst, perSecond: settings.loginPerS }, keyOf: bySource, what: "failed login attempts from this address", counts: (status) => status === 401 }),
    admin: rateLimit({
      ...common,
      limit: "admin",
      rate: { burst: settings.adminBurst, perSecond: settings.adminPerS },
      keyOf: credentialKey,
      what: "API requests with this token or session",
    }),
  };
}

/**
 * `first`, then `second`: one middleware (an admin route takes one). A
 * response `second` answers with travels back through `first` to Hono, which
 * makes it the answer as it does for any middleware's; the cast is only for
 * Next's type (Promise<void>). No extra await: it runs on every admin read.
 */
export function both(first: MiddlewareHandler, second: MiddlewareHandler): MiddlewareHandler {
  return (c, next) => first(c, () => second(c, next) as Promise<void>);
}
