// Runs wrk (Debian package `wrk`) against a URL and returns requests/s.
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

export interface WrkRun {
  requestsPerSecond: number;
  non2xx: number;
  latencyP99Ms: number | null;
}

const REPORT = `
done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %d %d %f\\n", summary.requests, summary.duration, summary.errors.status, latency:percentile(99) / 1000))
end
`;

export function wrkAvailable(): boolean {
  return spawnSync("wrk", ["--version"]).error === undefined;
}

/**
 * `script` is extra Lua (e.g. a request() function); the done() reporter is
 * appended. Asynchronous on purpose: a blocked parent stops draining its
 * children's output pipes, and a hub that logs would stall on a full pipe.
 */
export async function runWrk(url: string, options: { dir: string; seconds: number; connections: number; threads?: number; script?: string; headers?: string[] }): Promise<WrkRun> {
  const scriptPath = join(options.dir, `wrk-${Date.now()}-${Math.random().toString(36).slice(2)}.lua`);
  writeFileSync(scriptPath, `${options.script ?? ""}\n${REPORT}`);
  const args = ["-t", String(options.threads ?? 1), "-c", String(options.connections), "-d", `${options.seconds}s`, "-s", scriptPath, "--latency"];
  for (const header of options.headers ?? []) args.push("-H", header);
  const run = Bun.spawn(["wrk", ...args, url], { stdout: "pipe", stderr: "pipe", timeout: (options.seconds + 30) * 1000 });
  const [stdout, stderr] = await Promise.all([new Response(run.stdout).text(), new Response(run.stderr).text(), run.exited]);
  const match = /RESULT (\d+) (\d+) (\d+) ([\d.]+)/.exec(stdout);
  if (!match) throw new Error(`wrk gave no result: ${stderr || stdout}`);
  const [, requests, durationUs, non2xx, p99] = match;
  return { requestsPerSecond: Number(requests) / (Number(durationUs) / 1e6), non2xx: Number(non2xx), latencyP99Ms: Number(p99) };
}
