// A real agent as its own process (bun agent/main.ts), enrolled with a test
// hub, with its local API on a free port: what a test kills with SIGKILL to
// see what the hub (and the dashboard) make of a node that just dies, and
// starts again from the same env file (same identity and state).
import { spawn, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { BUN, REPO_ROOT, tempDir } from "../helpers.ts";
import type { TestHub } from "./hub-harness.ts";

export interface AgentProcess {
  child: ChildProcess;
  /** The local API's port, once it listens; rejects if the agent exits first. */
  apiPort: Promise<number>;
}

/** The agent.env of a new node enrolled with `hub`: its own data dir, the example kernel config, a free API port. */
export function writeAgentEnv(hub: TestHub, nodeId: string): string {
  const envFile = join(tempDir(), "agent.env");
  const settings = {
    EDGEFED_HUB_URL: hub.hub.httpUrl,
    EDGEFED_ENROLL_TOKEN: hub.enrollmentToken(),
    EDGEFED_NODE_ID: nodeId,
    EDGEFED_DATA_DIR: join(tempDir(), "state"),
    EDGEFED_KERNEL_CONFIG: join(REPO_ROOT, "examples/core_gates.env"),
    EDGEFED_API_PORT: "0",
  };
  writeFileSync(envFile, Object.entries(settings).map(([k, v]) => `${k}=${v}\n`).join(""), { mode: 0o600 });
  return envFile;
}

export function startAgentProcess(envFile: string): AgentProcess {
  const child = spawn(BUN, [join(REPO_ROOT, "agent/main.ts")], { env: { PATH: process.env.PATH, EDGEFED_AGENT_ENV: envFile }, stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  const apiPort = new Promise<number>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      log += chunk;
      const match = /local intent API on 127\.0\.0\.1:(\d+)/.exec(log);
      if (match) resolve(Number(match[1]));
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("exit", (code) => reject(new Error(`agent exited with ${code}:\n${log}`)));
  });
  apiPort.catch(() => {}); // killed on purpose later: nobody awaits it then
  return { child, apiPort };
}

/** GET /v1/status of an agent's local API. */
export async function agentStatus(agent: AgentProcess): Promise<{ mode: string; [key: string]: unknown }> {
  const response = await fetch(`http://127.0.0.1:${await agent.apiPort}/v1/status`);
  return (await response.json()) as { mode: string };
}
