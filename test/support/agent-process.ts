// A real agent as its own process (bun agent/main.ts), enrolled with a test
// hub, with its local API on a Unix socket of its own: what a test kills
// with SIGKILL to see what the hub (and the dashboard) make of a node that
// just dies, and starts again from the same env file (same identity, state
// and socket path: the second start removes the socket the killed one left).
import { spawn, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { BUN, REPO_ROOT, tempDir } from "../helpers.ts";
import type { TestHub } from "./hub-harness.ts";

export interface AgentProcess {
  child: ChildProcess;
  /** The local API's socket path, once it listens; rejects if the agent exits first. */
  socket: Promise<string>;
}

/** The agent.env of a new node enrolled with `hub` (pinning its CA): its own data dir and socket, the example kernel config. */
export function writeAgentEnv(hub: TestHub, nodeId: string): string {
  return writeAgentEnvFor({ hubUrl: hub.hub.httpUrl, hubCaFile: hub.hub.tls?.caFile ?? null, enrollToken: hub.enrollmentToken() }, nodeId);
}

/** The same for a hub given by its URL, CA file (null: plaintext) and an enrollment token (a hub process, a replica). */
export function writeAgentEnvFor(hub: { hubUrl: string; hubCaFile: string | null; enrollToken: string }, nodeId: string): string {
  const envFile = join(tempDir(), "agent.env");
  const settings = {
    EDGEFED_HUB_URL: hub.hubUrl,
    // The hub's CA, as flash puts it on a card (none for a plaintext hub).
    ...(hub.hubCaFile ? { EDGEFED_HUB_CA: hub.hubCaFile } : {}),
    EDGEFED_ENROLL_TOKEN: hub.enrollToken,
    EDGEFED_NODE_ID: nodeId,
    EDGEFED_DATA_DIR: join(tempDir(), "state"),
    EDGEFED_KERNEL_CONFIG: join(REPO_ROOT, "examples/core_gates.env"),
    EDGEFED_API_SOCKET: join(tempDir(), "agent.sock"),
  };
  writeFileSync(envFile, Object.entries(settings).map(([k, v]) => `${k}=${v}\n`).join(""), { mode: 0o600 });
  return envFile;
}

export function startAgentProcess(envFile: string): AgentProcess {
  const child = spawn(BUN, [join(REPO_ROOT, "agent/main.ts")], { env: { PATH: process.env.PATH, EDGEFED_AGENT_ENV: envFile }, stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  const socket = new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      log += chunk;
      const match = /local intent API on unix:(\S+?)["\s]/.exec(log);
      if (match) resolve(match[1]!);
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("exit", (code) => reject(new Error(`agent exited with ${code}:\n${log}`)));
  });
  socket.catch(() => {}); // killed on purpose later: nobody awaits it then
  return { child, socket };
}

/** A request to an agent's local API over its socket. */
export async function callAgentProcess(agent: AgentProcess, path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`http://localhost${path}`, { ...init, unix: await agent.socket });
}

/** GET /v1/status of an agent's local API. */
export async function agentStatus(agent: AgentProcess): Promise<{ mode: string; [key: string]: unknown }> {
  return (await (await callAgentProcess(agent, "/v1/status")).json()) as { mode: string };
}

/** SIGKILLs the agent unless it has exited, and waits for its exit. */
export function killAgentProcess(agent: AgentProcess): Promise<void> {
  const { child } = agent;
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGKILL");
  return exited;
}
