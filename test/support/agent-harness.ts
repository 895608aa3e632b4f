// Real agents in-process for tests: the one AgentConfig they start from,
// enrolled with a test hub or with none (simulation only), and starting
// one that the hub has heard from.
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
