// Defect 7 of issue 10: a deeply nested JSON (10,000 levels, 20 KB) crashed a
// decision request with a 500 (canonicalJson recursing while signing). Every
// JSON the hub and the agent accept is now refused past MAX_JSON_DEPTH levels,
// before anything walks it: a 400 naming the limit over HTTP, a drop with
// the reason over MQTT, an error line from the gate CLI.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { Agent } from "../agent/agent.ts";
import { MAX_JSON_DEPTH } from "../lib/json-depth.ts";
import { nodeTopic } from "../protocol/topics.ts";
import { BUN, removeTempDirs, REPO_ROOT } from "./helpers.ts";
import { postJson, testAgentConfig } from "./support/agent-harness.ts";
import { connectNode, eventually, newNode, registerBody, startTestHub, type TestHub } from "./support/hub-harness.ts";

const LEVELS = 10_000;
const LIMIT = `limit of ${MAX_JSON_DEPTH} levels`;
/** 10,000 nested arrays: 20 KB, well under every size limit (the red team's payload; a 500 on the hub's Node build). */
const deep = "[".repeat(LEVELS) + "]".repeat(LEVELS);
/** 10,000 nested objects: 60 KB, still under the hub's 64 KB body limit; the 500 under Bun too, whose stack is deeper. */
const deepObjects = `{"a":`.repeat(LEVELS) + "1" + "}".repeat(LEVELS);
/** A JSON object with `deep` as the value of `key`, spliced in as text (JSON.stringify of it would itself overflow). */
const withDeep = (value: Record<string, unknown>, key: string) => JSON.stringify(value).replace(/}$/, `,${JSON.stringify(key)}:${deep}}`);

describe("the hub", () => {
  let t: TestHub;
  const logs: string[] = [];
  beforeAll(async () => {
    t = await startTestHub({ log: (line) => logs.push(line) });
  });
  afterAll(async () => {
    await t.stop();
    removeTempDirs();
  });

  test("a decision whose payload nests 10,000 levels gets 400 naming the limit, not 500", async () => {
    for (const notes of [deepObjects, deep]) {
      const body = `{"type":"RESEARCH_TASK","target":"fleet","payload":{"task_type":"echo","description":"d","params":{"notes":${notes}}}}`;
      expect(body.length).toBeLessThan(t.settings.maxBodyBytes);
      const response = await t.api("POST", "/api/federation/decisions", body);
      expect(response.body).toEqual({ error: "json_too_deep", detail: expect.stringContaining(LIMIT) });
      expect(response.status).toBe(400);
    }
    // Free-form parameters below the limit are still signed and issued.
    const nested = "[".repeat(MAX_JSON_DEPTH - 3) + "]".repeat(MAX_JSON_DEPTH - 3); // body > payload > params > notes ...
    const fine = await t.api("POST", "/api/federation/decisions", `{"type":"RESEARCH_TASK","target":"fleet","payload":{"task_type":"echo","description":"d","params":{"notes":${nested}}}}`);
    expect(fine.status).toBe(201);
  });

  test("a registration nesting 10,000 levels gets 400 naming the limit", async () => {
    const body = withDeep(registerBody(newNode("deep-register")), "extra");
    const response = await t.api("POST", "/federation/register", body, t.enrollmentToken());
    expect(response.status).toBe(400);
    expect(response.body).toEqual({ error: "json_too_deep", detail: expect.stringContaining(LIMIT) });
  });

  test("a verdict event nesting 10,000 levels over MQTT is dropped with the reason", async () => {
    const node = newNode("deep-verdicts");
    const registered = await t.api("POST", "/federation/register", registerBody(node), t.enrollmentToken());
    expect(registered.status).toBe(201);
    const client = await connectNode(registered.body.mqtt);
    try {
      const event = { seq: 1, ts: Date.now(), simulated: false, symbol: "BTCUSDT" };
      await client.publishAsync(nodeTopic(node.nodeId, "verdicts"), withDeep(event, "verdict"), { qos: 1 });
      const line = await eventually(() => logs.find((l) => l.includes(`dropped a message from ${node.nodeId}`)), 5000, "the drop in the hub's log");
      expect(line).toContain(`invalid payload: verdicts: JSON nested deeper than the ${LIMIT}`);
      expect((await t.api("GET", `/federation/nodes/${node.nodeId}`)).body.verdicts.last_seq ?? 0).toBe(0);
    } finally {
      await client.endAsync();
    }
  });
});

test("the agent's local API answers a 10,000-level intent body with 400 naming the limit", async () => {
  const agent = await Agent.start(testAgentConfig(null, "deep-intents", { apiPort: 0 }));
  try {
    for (const path of ["/v1/intents", "/v1/closes"]) {
      const response = await postJson(agent, path, `[${deep}]`);
      expect(response.status).toBe(400);
      expect(response.body).toEqual({ error: "json_too_deep", detail: expect.stringContaining(LIMIT) });
    }
  } finally {
    await agent.stop();
    removeTempDirs();
  }
});

test("the gate CLI answers a 10,000-level line with an error line and goes on", () => {
  const input = `${withDeep({ id: "deep-1", symbol: "BTCUSDT" }, "meta")}\n{"type":"close","symbol":"BTCUSDT","ts":1700000000000}\n`;
  const result = Bun.spawnSync([BUN, join(REPO_ROOT, "kernel/gate-cli.ts")], { stdin: new TextEncoder().encode(input), stderr: "pipe" });
  expect(result.exitCode).toBe(0);
  const lines = result.stdout.toString().trim().split("\n").map((l) => JSON.parse(l));
  expect(lines).toEqual([
    { error: "json_too_deep", line: 1, detail: expect.stringContaining(LIMIT) },
    { type: "close_ack", symbol: "BTCUSDT", ts: 1_700_000_000_000 },
  ]);
});
