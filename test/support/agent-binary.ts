// The agent as it ships: a single-file binary (bun build --compile), arm64 for
// a Pi (run under qemu) and x64 for this machine. Each is built once per test
// run while its build is still there (bun test runs every file in one
// process), into a directory made with tempDir(): the removeTempDirs() of the
// test file's afterAll deletes it (bun test fires no process "exit" event, so
// an exit hook would leave the 105 MB behind on every run).
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { BUN, REPO_ROOT, tempDir } from "../helpers.ts";

export const QEMU = "/usr/bin/qemu-aarch64-static";
/** qemu-user's arguments before the binary: the arm64 loader and libc (Debian's libc6-arm64-cross), and the CPU. */
export const qemuArgs = (cpu: string) => ["-L", "/usr/aarch64-linux-gnu", "-cpu", cpu];

type Arch = "arm64" | "x64";
const built = new Map<Arch, string>();

function agentBinary(arch: Arch): string {
  const cached = built.get(arch);
  if (cached && existsSync(cached)) return cached;
  const binary = join(tempDir(`edgefed-${arch}-build-`), `edgefed-agent-linux-${arch}`);
  const build = spawnSync(BUN, ["build", join(REPO_ROOT, "agent/main.ts"), "--compile", "--minify", `--target=bun-linux-${arch}`, "--outfile", binary], { encoding: "utf8" });
  if (build.status !== 0) throw new Error(`building the ${arch} agent failed: ${build.stderr}`);
  built.set(arch, binary);
  return binary;
}

export const arm64AgentBinary = () => agentBinary("arm64");
export const x64AgentBinary = () => agentBinary("x64");
