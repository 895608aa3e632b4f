// The dashboard as the hub serves it: the page and its hashed assets, each
// precompressed, with the security headers and the cache policy.
import { describe, expect, test } from "bun:test";
import { gunzipSync, brotliDecompressSync } from "node:zlib";
import { Hono } from "hono";
import { hubErrorHandler } from "../http/error-handler.ts";
import { dashboardRoutes } from "./routes.ts";

// Mounted as the hub mounts it, under the hub's one error handler.
const app = new Hono().onError(hubErrorHandler(() => {})).route("/", dashboardRoutes(() => {}));

async function page(acceptEncoding = "gzip, deflate, br") {
  const response = await app.request("/", { headers: { "accept-encoding": acceptEncoding } });
  return response;
}

function assetPaths(html: string): string[] {
  return [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]!);
}

describe("the dashboard page", () => {
  test("is served at / with a strict CSP, nosniff, no referrer and no framing", async () => {
    const response = await page("identity");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toStartWith("text/html");
    const csp = response.headers.get("content-security-policy")!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain("unsafe-inline");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(response.headers.get("x-content-type-options")).toBe("nosniff");
    expect(response.headers.get("referrer-policy")).toBe("no-referrer");
    expect(response.headers.get("cache-control")).toBe("no-cache");
    const html = await response.text();
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)/); // no inline script
    expect(assetPaths(html).length).toBe(2); // one script, one stylesheet
  });

  test("prefers brotli, else gzip, and decompresses to the same bytes", async () => {
    const plain = await (await page("identity")).text();
    const br = await page("gzip, br");
    expect(br.headers.get("content-encoding")).toBe("br");
    expect(brotliDecompressSync(Buffer.from(await br.arrayBuffer())).toString()).toBe(plain);
    const gzip = await page("gzip, br;q=0");
    expect(gzip.headers.get("content-encoding")).toBe("gzip");
    expect(gunzipSync(Buffer.from(await gzip.arrayBuffer())).toString()).toBe(plain);
    expect(gzip.headers.get("vary")).toBe("Accept-Encoding");
  });

  test("hashed assets are cached for a year; an unknown one is a 404 with {error, detail}", async () => {
    const html = await (await page("identity")).text();
    for (const path of assetPaths(html)) {
      const response = await app.request(path, { headers: { "accept-encoding": "gzip" } });
      expect(response.status).toBe(200);
      expect(response.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
      expect(response.headers.get("content-type")).toMatch(/^text\/(javascript|css)/);
    }
    const missing = await app.request("/assets/main-00000000.js");
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: "not_found" });
  });
});
