// Real agents in-process for tests: the one AgentConfig they start from,
// enrolled with a test hub or with none (simulation only), starting one
// that the hub has heard from, and speaking its local API over real HTTP
// (its Unix socket, or TCP with its bearer token).
import { readFileSync } from "node:fs";
import { Agent, type AgentConfig } from "../../agent/agent.ts";
import { DEFAULT_CONFIG } from "../../kernel/config.ts";
import { tempDir } from "../helpers.ts";
import { eventually, type TestHub } from "./hub-harness.ts";

export type TestAgentOverrides = Partial<AgentConfig> & {
  /** What the agent advertises; ["kernel"] unless given. */
  capabilities?: string[];
};

/**
 * An agent's config for a test: enrolled with `hub` (null: no hub, simulation
 * only), a fresh data dir, the default gate config, no local API, quiet log,
 * heartbeats as the hub says. `overrides` replace any of it.
 */
export function testAgentConfig(hub: TestHub | null, nodeId: string, overrides: TestAgentOverrides = {}): AgentConfig {
  const { capabilities = ["kernel"], ...config } = overrides;
  return {
    nodeId,
    dataDir: tempDir("edgefed-agent-"),
    hubUrl: hub ? hub.hub.httpUrl : "",
    hubCa: hub?.hub.tls?.ca ?? "",
    enrollToken: hub ? hub.enrollmentToken() : "",
    advertisement: { capabilities, arch: "x64", version: "0.1.0-test" },
    gateConfig: { ...DEFAULT_CONFIG },
    heartbeatS: 0,
    apiPort: null,
    outboxMax: 10_000,
    reconnectMaxS: 2,
    journalRetentionDays: 30,
    log: () => {},
    ...config,
  };
}

/** Starts an agent, keeps it in `running` for the test file's afterAll to stop, and waits until `hub` has its birth. */
export async function startOnlineAgent(hub: TestHub, config: AgentConfig, running: Agent[]): Promise<Agent> {
  const agent = await Agent.start(config);
  running.push(agent);
  await eventually(async () => (await hub.api("GET", `/federation/nodes/${config.nodeId}`)).body.state?.session >= 1, 10_000, `${config.nodeId} online`);
  return agent;
}

/**
 * A request to an agent's local API as a strategy process makes it: over its
 * Unix socket when it has one, else on 127.0.0.1 with the bearer token read
 * from its token file. Returns the status and the answer, parsed when it is JSON.
 */
export async function callLocalApi(agent: Agent, path: string, init: RequestInit = {}): Promise<{ status: number; body: any }> {
  let response: Response;
  if (agent.apiSocket !== null) {
    response = await fetch(`http://localhost${path}`, { ...init, unix: agent.apiSocket });
  } else if (agent.apiPort !== null) {
    const headers = new Headers(init.headers);
    headers.set("authorization", `Bearer ${readFileSync(agent.apiTokenFile, "utf8").trim()}`);
    response = await fetch(`http://127.0.0.1:${agent.apiPort}${path}`, { ...init, headers });
  } else {
    throw new Error("this agent has no local API (neither apiSocket nor apiPort)");
  }
  const text = await response.text();
  try {
    return { status: response.status, body: JSON.parse(text) };
  } catch {
    return { status: response.status, body: text };
  }
}

/** POSTs `body` to an agent's local API (callLocalApi): JSON-encoded, or as it is when a string (to send malformed JSON). */
export function postJson(agent: Agent, path: string, body: unknown, contentType = "application/json"): Promise<{ status: number; body: any }> {
  return callLocalApi(agent, path, { method: "POST", headers: { "content-type": contentType }, body: typeof body === "string" ? body : JSON.stringify(body) });
}
