// Serves the dashboard at `/` and its hashed assets under /assets/, each
// precompressed (brotli or gzip, whichever the browser takes), with the
// security headers a page holding an admin session needs: a strict CSP (no
// inline script or style, nothing from another origin, no framing), nosniff
// and no referrer.
import { Hono, type Context } from "hono";
import { HttpError } from "../../lib/http-errors.ts";
import { dashboardBuild, type DashboardAsset, type DashboardBuild } from "./build-assets.ts";

const SECURITY_HEADERS: Record<string, string> = {
  "Content-Security-Policy": [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join("; "),
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "X-Frame-Options": "DENY",
  "Cross-Origin-Opener-Policy": "same-origin",
};

export function dashboardRoutes(log: (line: string) => void): Hono {
  const routes = new Hono();
  // Built on the first visit (once per process); its outcome logged once, a failure answered 503.
  let ready: Promise<DashboardBuild | Error> | null = null;
  const built = () =>
    (ready ??= dashboardBuild().then(
      (build) => {
        log(`dashboard built in ${build.buildMs} ms (${build.assets.size} assets)`);
        return build;
      },
      (error: Error) => {
        log(`the dashboard is unavailable: ${error.message}`);
        return error;
      },
    ));

  const serve = async (c: Context, path: string) => {
    const build = await built();
    if (build instanceof Error) throw new HttpError(503, "dashboard_unavailable", build.message);
    const asset = build.assets.get(path);
    if (!asset) throw new HttpError(404, "not_found", `no dashboard asset ${path}`);
    return assetResponse(asset, c.req.header("accept-encoding") ?? "");
  };
  routes.get("/", (c) => serve(c, "/"));
  routes.get("/assets/:name", (c) => serve(c, `/assets/${c.req.param("name")}`));
  return routes;
}

function assetResponse(asset: DashboardAsset, acceptEncoding: string): Response {
  const accepted = acceptedEncodings(acceptEncoding);
  const accepts = (coding: string) => accepted.has(coding);
  const [body, encoding] = accepts("br") ? [asset.brotli, "br"] : accepts("gzip") ? [asset.gzip, "gzip"] : [asset.raw, null];
  const headers: Record<string, string> = {
    ...SECURITY_HEADERS,
    "Content-Type": asset.contentType,
    "Cache-Control": asset.immutable ? "public, max-age=31536000, immutable" : "no-cache",
    Vary: "Accept-Encoding",
  };
  if (encoding) headers["Content-Encoding"] = encoding;
  return new Response(body, { headers });
}

/** The codings an Accept-Encoding header takes (a `;q=0` refuses one). */
function acceptedEncodings(header: string): Set<string> {
  const accepted = new Set<string>();
  for (const part of header.split(",")) {
    const [coding, ...params] = part.trim().toLowerCase().split(";");
    const refused = params.some((param) => /^\s*q=0(\.0*)?\s*$/.test(param));
    if (coding && !refused) accepted.add(coding.trim());
  }
  return accepted;
}
