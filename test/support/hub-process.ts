// A hub as its own process (`bun hub/main.ts`), for tests that kill it for
// real (SIGKILL) or need several: loopback HTTP on a free port, read from its
// "HTTP API on HOST:PORT" line, the given env and nothing else of the test
// process's. TLS as the env says; with TLS on, seed the data dir with the
// test run's PKI (seedTestTls) first, so testFetch and every test client
// trust it. No hub outlives the test run: an exit handler kills what is still
// running, and a watchdog per hub kills it if the test process dies without
// running exit handlers.
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { BUN, killWithThisProcess, REPO_ROOT } from "../helpers.ts";
import { eventually } from "./hub-harness.ts";
import { jsonRequest } from "./json-request.ts";
import { testFetch } from "./test-tls.ts";

export const HUB_PROCESS_ADMIN_TOKEN = "hub-process-admin-token-0123456789";
/** How long a hub process may take to print its HTTP line: a start on this shared 2-core machine under the others' tests. */
export const HUB_PROCESS_START_BOUND_MS = 30_000;

export interface HubProcess {
  child: ChildProcess;
  /** https://127.0.0.1:PORT (http:// with EDGEFED_TLS=off). */
  httpUrl: string;
  /** Everything it printed so far (stdout and stderr), for failure messages. */
  output(): string;
  /** An API call with the admin token (or `token`); the body parsed as JSON when it is JSON. */
  api(method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; body: any }>;
  /** Sends `signal` (SIGKILL by default) and waits for the exit. Idempotent. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Whether the process has not exited yet. */
  running(): boolean;
}

const live = new Set<ChildProcess>();
let exitHandlerInstalled = false;

function installExitHandler(): void {
  if (exitHandlerInstalled) return;
  exitHandlerInstalled = true;
  process.on("exit", () => {
    for (const child of live) child.kill("SIGKILL");
  });
}

/** SIGKILLs every hub process still running and waits for their exits (a test file's afterAll). */
export async function killHubProcesses(): Promise<void> {
  const exits = [...live].map((child) => {
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGKILL");
    return exited;
  });
  await Promise.all(exits);
}

/** Starts `bun hub/main.ts` with `env` (over loopback defaults and the admin token) and waits for its HTTP line. */
export async function startHubProcess(env: Record<string, string>): Promise<HubProcess> {
  installExitHandler();
  const child = spawn(BUN, [join(REPO_ROOT, "hub/main.ts")], {
    env: { PATH: process.env.PATH, EDGEFED_HTTP_HOST: "127.0.0.1", EDGEFED_HTTP_PORT: "0", EDGEFED_ADMIN_TOKEN: HUB_PROCESS_ADMIN_TOKEN, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  live.add(child);
  const watchdog = killWithThisProcess(child.pid!);
  const exited = new Promise<void>((resolve) =>
    child.once("exit", () => {
      live.delete(child);
      watchdog.kill("SIGKILL");
      resolve();
    }),
  );
  let output = "";
  child.stdout!.on("data", (chunk) => (output += chunk));
  child.stderr!.on("data", (chunk) => (output += chunk));
  const running = () => child.exitCode === null && child.signalCode === null;
  const port = await eventually(
    () => {
      if (!running()) throw new Error(`hub process exited (${child.exitCode ?? child.signalCode}) before listening:\n${output}`);
      return /HTTP API on [\d.]+:(\d+)/.exec(output)?.[1];
    },
    HUB_PROCESS_START_BOUND_MS,
    () => `the hub process's HTTP line:\n${output}`,
  );
  const scheme = env.EDGEFED_TLS === "off" ? "http" : "https";
  const httpUrl = `${scheme}://127.0.0.1:${port}`;
  return {
    child,
    httpUrl,
    output: () => output,
    api: (method, path, body, token = HUB_PROCESS_ADMIN_TOKEN) => jsonRequest(testFetch, `${httpUrl}${path}`, method, body, { authorization: `Bearer ${token}` }),
    async kill(signal = "SIGKILL") {
      if (running()) child.kill(signal);
      await exited;
    },
    running,
  };
}
