// Child processes for benchmarks: started with Bun, waited for until they
// print the line that says they are ready, killed at the end. Their output is
// always drained (a child blocked on a full pipe would skew a benchmark) and
// its tail kept for waitFor() and error messages.
import { spawn, type ChildProcess } from "node:child_process";

const KEEP_OUTPUT_CHARS = 64 * 1024;

export interface Child {
  process: ChildProcess;
  /** The first capture group of the ready pattern. */
  ready: string;
  /** Waits for a line matching `pattern` (printed since the last wait) and returns its first group. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** SIGTERM, then SIGKILL if it has not exited after `killAfterMs` (default 5 s). */
  stop(killAfterMs?: number): Promise<void>;
}

/** Runs `command` (Bun itself by default) with `args` until it prints `readyPattern`. */
export async function startChild(args: string[], env: Record<string, string>, readyPattern: RegExp, timeoutMs = 20_000, command = process.execPath): Promise<Child> {
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  let waiter: (() => void) | null = null;
  const onData = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-KEEP_OUTPUT_CHARS);
    waiter?.();
  };
  child.stdout!.on("data", onData);
  child.stderr!.on("data", onData);

  const waitFor = (pattern: RegExp, waitMs = timeoutMs) =>
    new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`child ${args.join(" ")} did not print ${pattern} in ${waitMs} ms:\n${output}`)), waitMs);
      const onExit = (code: number | null) => reject(new Error(`child exited with ${code}:\n${output}`));
      waiter = () => {
        const match = pattern.exec(output);
        if (!match) return;
        output = output.slice(match.index + match[0].length);
        waiter = null;
        clearTimeout(timer);
        child.off("exit", onExit);
        resolve(match[1] ?? "");
      };
      child.once("exit", onExit);
      waiter();
    });

  const ready = await waitFor(readyPattern);
  return {
    process: child,
    ready,
    waitFor,
    stop: (killAfterMs = 5000) =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
        setTimeout(() => child.kill("SIGKILL"), killAfterMs).unref();
      }),
  };
}
