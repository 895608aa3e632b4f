// bun run bench dashboard [page|ingest|decisions]
// (a) page: a hub process with NODES (10,000) registered nodes; Chromium
//     (Debian's, through playwright-core) logs in once, then LOADS (5) times
//     opens the dashboard in a fresh context (empty cache, the session
//     cookie set) and times navigation start to the fleet table's first
//     rows; value = the median. Also the bytes transferred by the first load
//     (page, assets and the first API answers, compressed as sent, headers
//     included; the live stream left out), and GET /metrics's scrape time
//     (median of 20) when the hub has /metrics. (The result line's limit is
//     the value itself: no ceiling is measured for a page load.)
// (b) ingest: `bench hub heartbeats` run in PAIRS (2) of two, without and
//     with 5 dashboard sessions open on the draining hub (DASHBOARD_SESSIONS),
//     alternating so that the machine's other load falls on both; its ratio
//     must not fall. NODES_INGEST/ROUNDS_INGEST set its size (default
//     1000 x 1000).
// (c) decisions: a hub process with NODES registered nodes and 3 fleet
//     decisions (none acknowledged: no agent runs); the bytes of the
//     Decisions page's list (GET /api/federation/decisions?limit=20) with
//     every target and pending id, and in its summary mode (?summary=1).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import type { Page } from "playwright-core";
import { browserMissing, launchChromium } from "../test/support/browser.ts";
import { printResult, printTable, round } from "./report.ts";
import { BENCH_ADMIN_TOKEN, createToken, hubTls, registerNodes, startHubProcess } from "./support/hub-process.ts";
import { testFetch } from "../test/support/test-tls.ts";

const NODES = Number(process.env.NODES ?? 10_000);
const LOADS = Number(process.env.LOADS ?? 5);
const SESSIONS = 5;
/** Every node registers from this one address: the registration rate limit's burst must take them all. */
const HUB_ENV = { EDGEFED_RATE_REGISTER_BURST: String(NODES) };
const part = process.argv[3];
const runs = (name: string) => part === undefined || part === name;
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

interface PageFigures {
  firstRowsMs: number[];
  /** Per load, when (ms from navigation start) the script, the session and the fleet page had arrived. */
  milestones: { script: number; session: number; fleet: number }[];
  firstLoadBytes: number;
  assetBytes: number;
  metricsScrapeMs: number | null;
}

/** Bytes on the wire of everything the page fetched but the stream: body as sent (compressed) plus headers. */
async function transferred(page: Page, load: () => Promise<void>): Promise<{ all: number; assets: number }> {
  const sizes: Promise<{ bytes: number; asset: boolean }>[] = [];
  page.on("requestfinished", (request) => {
    if (request.url().endsWith("/api/stream")) return;
    const asset = request.resourceType() === "document" || request.url().includes("/assets/");
    sizes.push(request.sizes().then((s) => ({ bytes: s.responseBodySize + s.responseHeadersSize, asset })));
  });
  await load();
  const done = await Promise.all(sizes);
  return { all: done.reduce((sum, s) => sum + s.bytes, 0), assets: done.filter((s) => s.asset).reduce((sum, s) => sum + s.bytes, 0) };
}

async function pageLoads(): Promise<PageFigures> {
  const missing = browserMissing();
  if (missing) throw new Error(missing);
  const dir = mkdtempSync(join(tmpdir(), "edgefed-bench-dashboard-"));
  const tls = hubTls(join(dir, "hub")); // TLS=1: the test run's certificate, which launchChromium pins
  const hub = await startHubProcess(join(dir, "hub"), HUB_ENV);
  const browser = await launchChromium();
  try {
    const token = await createToken(join(dir, "hub"));
    const started = performance.now();
    await registerNodes(hub.url, token, NODES, tls?.ca);
    console.log(`registered ${NODES} nodes in ${Math.round(performance.now() - started)} ms`);

    const login = await testFetch(`${hub.url}/api/session`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ token: BENCH_ADMIN_TOKEN }) });
    if (login.status !== 200) throw new Error(`login: ${login.status} ${await login.text()}`);
    const [name, value] = login.headers.get("set-cookie")!.split(";")[0]!.split("=") as [string, string];
    await (await testFetch(hub.url)).arrayBuffer(); // the hub builds the page on its first visit; that is start-up, not a load

    const firstRowsMs: number[] = [];
    const milestones: { script: number; session: number; fleet: number }[] = [];
    let bytes = { all: 0, assets: 0 };
    for (let i = 0; i < LOADS; i++) {
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 } }); // an empty cache each time
      await context.addCookies([{ name, value, url: hub.url }]);
      const page = await context.newPage();
      const measured = await transferred(page, async () => {
        await page.goto(hub.url, { waitUntil: "commit" });
        // On the page's own clock (0 = navigation start), checked each frame until the first rows are in the DOM.
        const at = await page.waitForFunction(() => document.querySelector("tr[data-node]") !== null && performance.now(), undefined, { polling: "raf", timeout: 30_000 });
        firstRowsMs.push((await at.jsonValue()) as number);
      });
      // Where the time went, on the same clock: the script in, the session known, the fleet page answered.
      milestones.push(
        await page.evaluate(() => {
          const ended = (part: string) => Math.round((performance.getEntriesByType("resource") as PerformanceResourceTiming[]).find((e) => e.name.includes(part))?.responseEnd ?? NaN);
          return { script: ended("/assets/main-"), session: ended("/api/session"), fleet: ended("/federation/nodes") };
        }),
      );
      if (i === 0) bytes = measured;
      await context.close();
    }

    let metricsScrapeMs: number | null = null;
    const probe = await testFetch(`${hub.url}/metrics`, { headers: { authorization: `Bearer ${BENCH_ADMIN_TOKEN}` } });
    await probe.arrayBuffer();
    if (probe.status === 200) {
      const times: number[] = [];
      for (let i = 0; i < 20; i++) {
        const t0 = performance.now();
        await (await testFetch(`${hub.url}/metrics`, { headers: { authorization: `Bearer ${BENCH_ADMIN_TOKEN}` } })).arrayBuffer();
        times.push(performance.now() - t0);
      }
      metricsScrapeMs = median(times);
    } else console.log(`GET /metrics answered ${probe.status}: no scrape time`);
    return { firstRowsMs, milestones, firstLoadBytes: bytes.all, assetBytes: bytes.assets, metricsScrapeMs };
  } finally {
    await browser.close();
    await hub.child.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

interface DecisionListSizes {
  full: number;
  summary: number;
}

/** The Decisions page's list at NODES nodes and 3 fleet decisions, bytes as sent (the API answers uncompressed), full and summarised. */
async function decisionListSizes(): Promise<DecisionListSizes> {
  const dir = mkdtempSync(join(tmpdir(), "edgefed-bench-decisions-"));
  const hub = await startHubProcess(join(dir, "hub"), HUB_ENV);
  const admin = { authorization: `Bearer ${BENCH_ADMIN_TOKEN}` };
  try {
    await registerNodes(hub.url, await createToken(join(dir, "hub")), NODES);
    const decisions = [
      { type: "FREEZE", target: "fleet", payload: { reason: "bench" } },
      { type: "MODE_CHANGE", target: "fleet", payload: { mode: "LIVE" } },
      { type: "RISK_ADJUSTMENT", target: "fleet", payload: { max_leverage: 3 } },
    ];
    for (const body of decisions) {
      const issued = await fetch(`${hub.url}/api/federation/decisions`, { method: "POST", headers: { ...admin, "content-type": "application/json" }, body: JSON.stringify(body) });
      if (issued.status !== 201) throw new Error(`issuing ${body.type}: ${issued.status} ${await issued.text()}`);
    }
    const bytes = async (query: string) => (await (await fetch(`${hub.url}/api/federation/decisions?${query}`, { headers: admin })).arrayBuffer()).byteLength;
    return { full: await bytes("limit=20"), summary: await bytes("limit=20&summary=1") };
  } finally {
    await hub.child.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

interface IngestRun {
  value: number;
  limit: number;
  ratio: number;
}

/** `bench hub heartbeats` in its own process with `sessions` dashboards open: the hub's heartbeats/s, the bare subscriber's, their ratio. */
function ingestRun(sessions: number): IngestRun {
  const env = { ...process.env, DASHBOARD_SESSIONS: String(sessions), NODES: process.env.NODES_INGEST ?? "1000", ROUNDS: process.env.ROUNDS_INGEST ?? "1000" };
  const run = spawnSync(process.execPath, [join(import.meta.dir, "run.ts"), "hub", "heartbeats"], { env, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  process.stdout.write(run.stdout);
  if (run.status !== 0) throw new Error(`bench hub heartbeats failed (${run.status}):\n${run.stderr}`);
  return JSON.parse(run.stdout.trim().split("\n").at(-1)!) as IngestRun;
}

const rows: [string, string | number][] = [];
const figures = runs("page") ? await pageLoads() : null;
if (figures) {
  rows.push([`navigation to the fleet table's first rows, median of ${LOADS} (ms)`, round(median(figures.firstRowsMs))]);
  rows.push(["  each load (ms)", figures.firstRowsMs.map((ms) => Math.round(ms)).join(", ")]);
  rows.push(["  script, session, fleet page arrived at (ms)", figures.milestones.map((m) => `${m.script}/${m.session}/${m.fleet}`).join(", ")]);
  rows.push(["first load transferred, all but the stream (bytes, target < 200 KB)", figures.firstLoadBytes]);
  rows.push(["  of which the page and its assets (bytes)", figures.assetBytes]);
  rows.push(["GET /metrics scrape, median of 20 (ms)", figures.metricsScrapeMs === null ? "no /metrics on this hub" : round(figures.metricsScrapeMs, 1)]);
}
const listSizes = runs("decisions") ? await decisionListSizes() : null;
if (listSizes) {
  rows.push([`decision list, 3 fleet decisions to ${NODES} nodes, every target (bytes)`, listSizes.full]);
  rows.push(["  the same list with ?summary=1 (bytes)", listSizes.summary]);
}
const PAIRS = Number(process.env.PAIRS ?? 2);
const ingest: { without: IngestRun[]; with: IngestRun[] } = { without: [], with: [] };
for (let pair = 0; runs("ingest") && pair < PAIRS; pair++) {
  ingest.without.push(ingestRun(0));
  ingest.with.push(ingestRun(SESSIONS));
}
const described = (all: IngestRun[]) => all.map((r) => `${r.ratio} (${Math.round(r.value)} of ${Math.round(r.limit)}/s)`).join(", ");
const medianRatio = (all: IngestRun[]) => median(all.map((r) => r.ratio));
if (ingest.with.length) {
  rows.push(["heartbeat ingest ratio (bench hub), no dashboard", described(ingest.without)]);
  rows.push([`heartbeat ingest ratio, ${SESSIONS} dashboard sessions open`, described(ingest.with)]);
}
printTable(figures || listSizes ? `dashboard: ${NODES} registered nodes` : "dashboard: heartbeat ingest with and without dashboards", rows);
if (!figures && listSizes && !ingest.with.length) {
  printResult({ bench: "dashboard-decisions", value: listSizes.summary, unit: "bytes of the summarised decision list", limit: listSizes.full });
}
if (!figures && ingest.with.length) {
  printResult({ bench: "dashboard-ingest", value: medianRatio(ingest.with), unit: "heartbeat ingest ratio with dashboards", limit: medianRatio(ingest.without) });
}
if (figures) {
  printResult({
    bench: "dashboard",
    value: round(median(figures.firstRowsMs)),
    unit: "ms to the fleet table's first rows",
    limit: round(median(figures.firstRowsMs)),
    extra: {
      first_load_bytes: figures.firstLoadBytes,
      asset_bytes: figures.assetBytes,
      ...(figures.metricsScrapeMs === null ? {} : { metrics_scrape_ms: round(figures.metricsScrapeMs, 1) }),
      ...(listSizes ? { decision_list_bytes: listSizes.full, decision_list_summary_bytes: listSizes.summary } : {}),
      ...(ingest.with.length ? { ingest_ratio: medianRatio(ingest.without), ingest_ratio_with_dashboards: medianRatio(ingest.with) } : {}),
    },
  });
}
process.exit(0);
