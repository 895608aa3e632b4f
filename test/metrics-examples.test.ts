// examples/prometheus and examples/grafana against the real thing: the
// scrape config and the alert rules pass promtool (check config, check
// rules, and the rules' own unit tests), every metric name they and the
// Grafana dashboard use is one a real hub (or agent) exports, and a real
// scrape passes `promtool check metrics` for the hub's own names. promtool
// comes with Debian's `prometheus` package (.ci/run installs it).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { copyFileSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Agent } from "../agent/agent.ts";
import { REPO_ROOT, removeTempDirs, tempDir } from "./helpers.ts";
import { callLocalApi, testAgentConfig } from "./support/agent-harness.ts";
import { startTestHub, type TestHub } from "./support/hub-harness.ts";
import { exportedNames, parsePrometheusText } from "./support/prometheus-text.ts";

const PROMETHEUS_DIR = join(REPO_ROOT, "examples/prometheus");
const DASHBOARD = join(REPO_ROOT, "examples/grafana/edgefed-dashboard.json");
const promtool = Bun.which("promtool");
const NO_PROMTOOL = "promtool missing: install Debian's prometheus package (.ci/run does)";

function runPromtool(args: string[], cwd: string, input?: string): { status: number | null; output: string } {
  const run = spawnSync(promtool!, args, { cwd, input, encoding: "utf8" });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

/** Metric names in a file: the project's (edgefed_) and the process metrics' (process_, nodejs_). */
function metricNamesIn(text: string): string[] {
  return [...new Set(text.match(/\b(?:edgefed|process|nodejs)_[a-zA-Z0-9_]+/g) ?? [])];
}

let hub: TestHub;
let agent: Agent;
let hubScrape: string;
let agentScrape: string;
beforeAll(async () => {
  // Per-node gauges on, so their names are in the scrape too.
  hub = await startTestHub({ env: { EDGEFED_METRICS_PER_NODE: "1" } });
  hubScrape = await (await hub.fetch(`/metrics`, { headers: { authorization: `Bearer ${hub.adminToken}` } })).text();
  agent = await Agent.start(testAgentConfig(null, "examples-agent", { apiPort: 0 }));
  agentScrape = (await callLocalApi(agent, "/v1/metrics")).body;
});
afterAll(async () => {
  await agent.stop();
  await hub.stop();
  removeTempDirs();
});

describe("examples/ use only what the hub and the agents export", () => {
  test("every metric name in the scrape config, the alert rules and the Grafana dashboard is in a real scrape", () => {
    const exported = new Set([...exportedNames(parsePrometheusText(hubScrape)), ...exportedNames(parsePrometheusText(agentScrape))]);
    const files = [...readdirSync(PROMETHEUS_DIR).map((name) => join(PROMETHEUS_DIR, name)), DASHBOARD];
    const used = files.flatMap((file) => metricNamesIn(readFileSync(file, "utf8")).map((name) => `${name} (${file.slice(REPO_ROOT.length + 1)})`));
    expect(used.length).toBeGreaterThan(15);
    expect(used.filter((entry) => !exported.has(entry.split(" ")[0]!))).toEqual([]);
  });

  test("the Grafana dashboard has the panels the operators asked for, each with a query", () => {
    const dashboard = JSON.parse(readFileSync(DASHBOARD, "utf8")) as { panels: { title: string; targets: { expr: string }[] }[] };
    const titles = dashboard.panels.map((panel) => panel.title);
    for (const title of ["Decisions per hour", "Role status", "Capital profile over time", "Trading mode over time", "Freezes", "Nodes by health"]) expect(titles).toContain(title);
    for (const panel of dashboard.panels) expect(panel.targets.length).toBeGreaterThan(0);
  });
});

describe.skipIf(!promtool)(`promtool (${promtool ? "found" : NO_PROMTOOL})`, () => {
  test("promtool check rules and the rules' unit tests (each alert fires on the series it is about)", () => {
    for (const args of [["check", "rules", "edgefed-rules.yml"], ["test", "rules", "edgefed-rules.test.yml"]]) {
      const run = runPromtool(args, PROMETHEUS_DIR);
      expect([args.join(" "), run.status, run.output]).toEqual([args.join(" "), 0, expect.stringContaining("SUCCESS")]);
    }
  });

  test("promtool check config, with the metrics token file in place as an operator puts it", () => {
    const dir = tempDir("edgefed-prometheus-");
    for (const file of ["prometheus.yml", "edgefed-rules.yml"]) copyFileSync(join(PROMETHEUS_DIR, file), join(dir, file));
    writeFileSync(join(dir, "edgefed-metrics-token"), "a-metrics-token\n", { mode: 0o600 });
    writeFileSync(join(dir, "edgefed-agent-api-token"), "an-agent-api-token\n", { mode: 0o600 });
    const run = runPromtool(["check", "config", "prometheus.yml"], dir);
    expect([run.status, run.output]).toEqual([0, expect.stringContaining("is valid prometheus config file syntax")]);
  });

  test("a real hub's and agent's scrapes pass promtool check metrics for every edgefed_ name", () => {
    for (const scrape of [hubScrape, agentScrape]) {
      const run = runPromtool(["check", "metrics"], REPO_ROOT, scrape);
      // prom-client's own nodejs_* gauges named *_total are its lint problems, not ours.
      expect(run.output.split("\n").filter((line) => line.includes("edgefed_"))).toEqual([]);
    }
  });
});
