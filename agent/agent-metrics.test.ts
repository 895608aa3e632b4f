// GET /v1/metrics on a real agent without a hub, over real HTTP on loopback (with its bearer token):
// Prometheus text that parses, with verdicts by verdict and HOLD reason,
// outbox depth, connectivity, mode, policy version and the journal's size
// moving as intents are judged; and label values escaped as the format says.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { DEFAULT_CONFIG } from "../kernel/config.ts";
import { removeTempDirs } from "../test/helpers.ts";
import { testAgentConfig } from "../test/support/agent-harness.ts";
import { parsePrometheusText, sampleValue } from "../test/support/prometheus-text.ts";
import { Agent } from "./agent.ts";
import { AGENT_METRICS_CONTENT_TYPE, renderAgentMetrics } from "./agent-metrics.ts";

let agent: Agent;
beforeAll(async () => {
  agent = await Agent.start(testAgentConfig(null, "agent-metrics", { apiPort: 0, gateConfig: { ...DEFAULT_CONFIG, MIN_HOLD_SECONDS: 0 } }));
});
afterAll(async () => {
  await agent.stop();
  removeTempDirs();
});

async function scrape() {
  const response = await fetch(`http://127.0.0.1:${agent.apiPort}/v1/metrics`, { headers: { authorization: `Bearer ${readFileSync(agent.apiTokenFile, "utf8").trim()}` } });
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toBe(AGENT_METRICS_CONTENT_TYPE);
  return parsePrometheusText(await response.text());
}

const entry = (id: string, fields: Record<string, unknown> = {}) => ({
  id, symbol: "BTCUSDT", side: "BUY", qty: 1, price: 100, tp: 130, sl: 90, expected_move_usd: 5, model: "NHiTS", regime: "TREND", ts: Date.now(), ...fields,
});

test("verdicts, HOLD reasons and the journal's size move as intents are judged; offline, LIVE, no policy yet", async () => {
  const before = await scrape();
  expect(sampleValue(before, "edgefed_agent_journal_rows")).toBe(0);
  expect(sampleValue(before, "edgefed_agent_online")).toBe(0);
  expect(sampleValue(before, "edgefed_agent_mode", { mode: "LIVE" })).toBe(1);
  expect(sampleValue(before, "edgefed_agent_mode", { mode: "FREEZE" })).toBe(0);
  expect(sampleValue(before, "edgefed_agent_policy_version")).toBe(0);
  expect(sampleValue(before, "edgefed_agent_outbox_depth")).toBe(0);
  expect(sampleValue(before, "edgefed_agent_outbox_awaiting_receipt")).toBe(0);
  expect(sampleValue(before, "edgefed_agent_outbox_oldest_awaiting_receipt_seconds")).toBe(0);
  expect(sampleValue(before, "edgefed_agent_outbox_resends_total")).toBe(0);

  const verdicts = await agent.submit([entry("m-pass"), entry("m-hold", { qty: -1 }), entry("m-pass")]);
  expect(verdicts.map((v) => v.verdict)).toEqual(["PASS", "HOLD", "PASS"]);
  const after = await scrape();
  expect(sampleValue(after, "edgefed_agent_verdicts_total", { verdict: "PASS" })).toBe(1);
  expect(sampleValue(after, "edgefed_agent_verdicts_total", { verdict: "HOLD" })).toBe(1);
  expect(sampleValue(after, "edgefed_agent_hold_reasons_total", { reason: verdicts[1]!.reasons[0]! })).toBe(1);
  expect(sampleValue(after, "edgefed_agent_duplicate_intents_total")).toBe(1);
  expect(sampleValue(after, "edgefed_agent_journal_rows")).toBe(2);
  expect(sampleValue(after, "edgefed_agent_journal_bytes")).toBeGreaterThan(0);
});

test("label values are escaped: backslash, quote and newline", () => {
  const text = renderAgentMetrics(
    { verdicts: {}, holdReasons: { 'odd"reason\\with\nnewline': 2 }, duplicates: 0, outboxDepth: 0, receipts: { awaiting: 0, oldestAgeMs: 0, resends: 0 }, online: true, mode: "LIVE", policyVersion: 3, journal: { rows: 0, bytes: 0 } },
    ["LIVE"],
  );
  expect(text).toContain('edgefed_agent_hold_reasons_total{reason="odd\\"reason\\\\with\\nnewline"} 2');
  expect(sampleValue(parsePrometheusText(text), "edgefed_agent_hold_reasons_total", { reason: 'odd"reason\\with\nnewline' })).toBe(2);
});
