// Small helpers shared by tests: temporary directories and child processes.
import type { Subprocess } from "bun";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

const made: string[] = [];

/** A fresh directory under the system temp dir; removeTempDirs() deletes all of them. */
export function tempDir(prefix = "edgefed-test-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

export function removeTempDirs(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** The Bun binary running this test, so child processes use the same runtime. */
export const BUN = process.execPath;

export const REPO_ROOT = join(import.meta.dir, "..");

const closeAfterTest: { close(): void | Promise<void> }[] = [];

/** Keeps something with close() (a database, a store) to close in cleanUp(). */
export function closeLater<T extends { close(): void | Promise<void> }>(resource: T): T {
  closeAfterTest.push(resource);
  return resource;
}

/** Closes what closeLater() kept (ignoring what a test closed itself) and removes the temp dirs. */
export async function cleanUp(): Promise<void> {
  for (const resource of closeAfterTest.splice(0)) {
    try {
      await resource.close();
    } catch {
      // already closed by the test
    }
  }
  removeTempDirs();
}

/** A loopback port nobody listens on right now (another process may still take it first). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error("no port assigned"))));
    });
    server.once("error", reject);
  });
}

/**
 * A tiny watchdog that SIGKILLs `pid` when this test process goes away
 * without running exit handlers (SIGKILL, a crash): its stdin pipe closes and
 * `read` returns. Kill the watchdog when the child exits on its own.
 */
export function killWithThisProcess(pid: number): Subprocess {
  const watchdog = Bun.spawn(["/bin/sh", "-c", 'read _ ; kill -9 "$0" 2>/dev/null', String(pid)], {
    stdin: "pipe",
    stdout: "ignore",
    stderr: "ignore",
  });
  watchdog.unref();
  return watchdog;
}

/**
 * Reads a child's stdout until `enough` complete lines arrived, then SIGKILLs
 * it. Returns the complete lines (what the child acknowledged; a torn last
 * line was not) and the exit code.
 */
export async function killAfterLines(
  proc: { stdout: ReadableStream<Uint8Array>; kill(signal: "SIGKILL"): void; exited: Promise<number> },
  enough: number,
): Promise<{ lines: string[]; code: number }> {
  const reader = proc.stdout.getReader();
  const decoder = new TextDecoder();
  let text = "";
  while (text.split("\n").length - 1 < enough) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
  }
  proc.kill("SIGKILL");
  const code = await proc.exited;
  return { lines: text.split("\n").slice(0, -1), code };
}
