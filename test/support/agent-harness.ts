// Real agents in-process for tests: the one AgentConfig they start from,
// enrolled with a test hub or with none (simulation only), starting one
// that the hub has heard from, and speaking its local API over real HTTP.
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
 * POSTs `body` to an agent's local API on loopback, as a strategy process
 * does: JSON-encoded, or as it is when a string (to send malformed JSON).
 * Returns the status and the answer, parsed when it is JSON.
 */
export async function postJson(apiPort: number | null, path: string, body: unknown, contentType = "application/json"): Promise<{ status: number; body: any }> {
  if (apiPort === null) throw new Error("this agent has no local API (apiPort: null)");
  const response = await fetch(`http://127.0.0.1:${apiPort}${path}`, {
    method: "POST",
    headers: { "content-type": contentType },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await response.text();
  try {
    return { status: response.status, body: JSON.parse(text) };
  } catch {
    return { status: response.status, body: text };
  }
}
