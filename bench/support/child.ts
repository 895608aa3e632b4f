// Child processes for benchmarks: started with Bun, waited for until they
// print the line that says they are ready, killed at the end.
import { spawn, type ChildProcess } from "node:child_process";

export interface Child {
  process: ChildProcess;
  /** The first capture group of the ready pattern. */
  ready: string;
  stop(): Promise<void>;
}

export async function startChild(args: string[], env: Record<string, string>, readyPattern: RegExp, timeoutMs = 20_000): Promise<Child> {
  const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const ready = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`child ${args.join(" ")} not ready in ${timeoutMs} ms:\n${output}`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = readyPattern.exec(output);
      if (match) {
        clearTimeout(timer);
        child.stdout!.off("data", onData);
        child.stderr!.off("data", onData);
        resolve(match[1] ?? "");
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("exit", (code) => reject(new Error(`child exited with ${code}:\n${output}`)));
  });
  const discard = () => {}; // keep draining, or a chatty child blocks on a full pipe
  child.stdout!.on("data", discard);
  child.stderr!.on("data", discard);
  return {
    process: child,
    ready,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
        setTimeout(() => child.kill("SIGKILL"), 5000).unref();
      }),
  };
}
