// The agent as it ships to a Pi: the single-file arm64 binary, built once per
// test run (bun test runs every file in one process) and shared by the tests
// that run it under qemu.
import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BUN, REPO_ROOT } from "../helpers.ts";

export const QEMU = "/usr/bin/qemu-aarch64-static";
/** qemu-user's arguments before the binary: the arm64 loader and libc (Debian's libc6-arm64-cross), and the CPU. */
export const qemuArgs = (cpu: string) => ["-L", "/usr/aarch64-linux-gnu", "-cpu", cpu];

let built: string | null = null;

export function arm64AgentBinary(): string {
  if (built) return built;
  const binary = join(mkdtempSync(join(tmpdir(), "edgefed-arm64-build-")), "edgefed-agent-linux-arm64");
  const build = spawnSync(BUN, ["build", join(REPO_ROOT, "agent/main.ts"), "--compile", "--minify", "--target=bun-linux-arm64", "--outfile", binary], { encoding: "utf8" });
  if (build.status !== 0) throw new Error(`building the arm64 agent failed: ${build.stderr}`);
  process.once("exit", () => spawnSync("rm", ["-rf", join(binary, "..")]));
  return (built = binary);
}
