// Small helpers shared by tests: temporary directories and child processes.
import { mkdtempSync, rmSync } from "node:fs";
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
