// Builds the dashboard (ui/, Preact + uPlot) with Bun.build into memory on
// its first visit: no build step before `npm start`, nothing on disk to go
// stale, and nothing spent by a hub nobody looks at (tests, benchmarks, a
// hub draining a backlog at start). Every asset is minified, named by its
// content hash (so it can be cached for a year) and compressed once here
// (gzip and brotli, on libuv's threads, off the event loop), never per
// request. One build per process, shared by every hub it starts (tests start
// many). Under Node (the `build:hub` bundle) there is no Bun.build: the
// dashboard answers 503 there and the API is unaffected.
import { promisify } from "node:util";
import { brotliCompress, constants as zlib, gzip } from "node:zlib";
import { join } from "node:path";

const gzipAsync = promisify(gzip);
const brotliAsync = promisify(brotliCompress);

type Bytes = Uint8Array<ArrayBuffer>;

export interface DashboardAsset {
  /** What the browser asks for: `/` or `/assets/<name>-<hash>.<ext>`. */
  path: string;
  contentType: string;
  /** Hashed names never change content: cached for a year. */
  immutable: boolean;
  raw: Bytes;
  gzip: Bytes;
  brotli: Bytes;
}

export interface DashboardBuild {
  assets: Map<string, DashboardAsset>;
  /** How long the build and the compression took, logged once. */
  buildMs: number;
}

const CONTENT_TYPES: Record<string, string> = {
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".html": "text/html; charset=utf-8",
  ".svg": "image/svg+xml",
};

let building: Promise<DashboardBuild> | null = null;

/** The build, started on the first call and shared afterwards. */
export function dashboardBuild(): Promise<DashboardBuild> {
  building ??= buildDashboard();
  return building;
}

async function buildDashboard(): Promise<DashboardBuild> {
  const started = performance.now();
  if (typeof globalThis.Bun === "undefined") throw new Error("the dashboard is built with Bun.build: run the hub under Bun (npm run hub)");
  // import.meta.dir is Bun's: looked up only once Bun is known to run.
  const result = await Bun.build({
    entrypoints: [join(import.meta.dir, "ui", "main.tsx")],
    target: "browser",
    minify: true,
    naming: { entry: "[name]-[hash].[ext]", chunk: "[name]-[hash].[ext]", asset: "[name]-[hash].[ext]" },
    define: { "process.env.NODE_ENV": '"production"' },
  });
  if (!result.success) throw new Error(`building the dashboard failed: ${result.logs.map(String).join("; ")}`);

  const assets = new Map<string, DashboardAsset>();
  const links: { scripts: string[]; styles: string[] } = { scripts: [], styles: [] };
  for (const output of result.outputs) {
    const name = output.path.replace(/^\.\//, "");
    const path = `/assets/${name}`;
    const extension = name.slice(name.lastIndexOf("."));
    if (output.kind === "entry-point") links.scripts.push(path);
    else if (extension === ".css") links.styles.push(path);
    assets.set(path, await compressed(path, CONTENT_TYPES[extension] ?? "application/octet-stream", true, new Uint8Array(await output.arrayBuffer())));
  }
  const page = indexHtml(links);
  assets.set("/", await compressed("/", CONTENT_TYPES[".html"]!, false, new TextEncoder().encode(page)));
  return { assets, buildMs: Math.round(performance.now() - started) };
}

/** Brotli at its best quality: about 0.5 s once, for 3 KB less than quality 9 on every first load. */
async function compressed(path: string, contentType: string, immutable: boolean, raw: Bytes): Promise<DashboardAsset> {
  const [gzipped, brotli] = await Promise.all([
    gzipAsync(raw, { level: 9 }),
    brotliAsync(raw, { params: { [zlib.BROTLI_PARAM_QUALITY]: 11, [zlib.BROTLI_PARAM_SIZE_HINT]: raw.length } }),
  ]);
  return { path, contentType, immutable, raw, gzip: new Uint8Array(gzipped), brotli: new Uint8Array(brotli) };
}

/** The one HTML page: no inline script or style (the CSP forbids them), hashed assets only. */
function indexHtml(links: { scripts: string[]; styles: string[] }): string {
  return [
    "<!doctype html>",
    '<html lang="en">',
    "<head>",
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<meta name="color-scheme" content="light dark">',
    "<title>edgefed</title>",
    ...links.styles.map((href) => `<link rel="stylesheet" href="${href}">`),
    ...links.scripts.map((src) => `<script type="module" src="${src}"></script>`),
    "</head>",
    '<body><div id="app"><noscript>The edgefed dashboard needs JavaScript.</noscript></div></body>',
    "</html>",
    "",
  ].join("\n");
}
