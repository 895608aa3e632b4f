// Writing one card: plan everything (format, files, cmdline.txt, room), and
// only when the plan holds write it, cmdline.txt last. A dry run prints the
// plan with secrets masked instead.
import { chmodSync, statSync } from "node:fs";
import { UsageError as AgentSettingsError } from "../lib/command-line.ts";
import { parseAgentSettings } from "../protocol/agent-env.ts";
import { ConfigError, loadGateConfig } from "../kernel/config-file.ts";
import { contentSize, openBootPartition, type BootPartition } from "./boot-partition.ts";
import { CmdlineError, editCmdline } from "./cmdline.ts";
import { BOOT_DIR, FLASH_MARK, renderFirstBootFiles, type PlannedFile } from "./first-boot-files.ts";
import type { FlashCommon, NodeProvision } from "./flash-options.ts";
import { detectFormat, type FirstBootFormat } from "./formats/index.ts";

/** The card cannot be written as asked; nothing has been written. */
export class FlashError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FlashError";
  }
}

/** Room kept free beyond the files themselves: directory entries, new directory clusters. */
const SLACK_BYTES = 256 * 1024;

export interface FlashPlan {
  target: string;
  format: FirstBootFormat;
  formatReason: string;
  /** In write order; cmdline.txt is last. */
  files: PlannedFile[];
  cmdlineBefore: string;
  neededBytes: number;
  freeBytes: number;
}

/** Checks the gate config the way the agent will load it (check-config would otherwise refuse it on the Pi, forever). */
function checkGateConfig(file: string): void {
  try {
    loadGateConfig({ file, env: {} });
  } catch (error) {
    if (error instanceof ConfigError) throw new FlashError(`the agent would refuse --kernel-config ${file}:\n  ${error.problems.join("\n  ")}`);
    throw error;
  }
}

/** Checks agent.env the way the agent will read it, so a card never carries settings its agent refuses. */
function checkAgentEnv(files: PlannedFile[]): void {
  const agentEnv = files.find((f) => f.path === `${BOOT_DIR}/agent.env`)!.content as string;
  try {
    parseAgentSettings([], { EDGEFED_AGENT_ENV: "/etc/edgefed/agent.env" }, { readFile: () => agentEnv, hostname: () => "localhost" });
  } catch (error) {
    if (error instanceof AgentSettingsError) throw new FlashError(`the agent would refuse these settings:\n  ${error.problems.join("\n  ")}`);
    throw error;
  }
}

export function planFlash(partition: BootPartition, node: NodeProvision, common: FlashCommon): FlashPlan {
  const cmdlineBefore = partition.read("cmdline.txt");
  if (cmdlineBefore === null) throw new FlashError(`${partition.description} has no cmdline.txt: it does not look like a Raspberry Pi boot partition`);
  const { format, reason } = common.format ? { format: common.format, reason: "--format" } : detectFormat(partition);
  checkGateConfig(common.kernelConfig);
  const { files, installId } = renderFirstBootFiles(node, common, format);
  checkAgentEnv(files);
  let cmdline: string;
  try {
    cmdline = editCmdline(cmdlineBefore, format, { instanceId: installId, wifiCountry: node.wifi?.country ?? null });
  } catch (error) {
    if (error instanceof CmdlineError) throw new FlashError(`${partition.description}: ${error.message}`);
    throw error;
  }
  files.push({ path: "cmdline.txt", content: cmdline, secrets: [] });

  // Everything outside edgefed/ replaces what the card may hold from before (its own cmdline.txt,
  // Imager's user-data or firstrun.sh): kept once under edgefed/before-flash/, so it is not lost.
  const backups: PlannedFile[] = [];
  for (const { path } of files.filter((f) => !f.path.startsWith(`${BOOT_DIR}/`))) {
    const before = path === "cmdline.txt" ? cmdlineBefore : partition.read(path);
    const backup = `${BOOT_DIR}/before-flash/${path}`;
    if (before !== null && !before.includes(FLASH_MARK) && partition.read(backup) === null) {
      // Imager's user-data or network-config may hold a password hash or a Wi-Fi key: kept as a secret whole.
      backups.push({ path: backup, content: before, secrets: [before], origin: `the card's own ${path}, kept` });
    }
  }
  const all = [...backups, ...files];

  const replaced = all.map((f) => partition.allocatedBytes(f.path));
  // Written aside (a directory), the largest replaced file exists twice for a moment.
  const aside = partition.writesAside ? Math.max(0, ...replaced) : 0;
  const neededBytes = all.reduce((sum, f, i) => sum + partition.allocationFor(contentSize(f.content)) - replaced[i]!, SLACK_BYTES + aside);
  const freeBytes = partition.freeBytes();
  if (neededBytes > freeBytes) {
    const mib = (n: number) => `${(n / (1 << 20)).toFixed(1)} MiB`;
    throw new FlashError(`${partition.description} has ${mib(freeBytes)} free, flash needs ${mib(neededBytes)} (the agent binary is most of it): free some room or use a larger boot partition`);
  }
  return { target: partition.description, format, formatReason: reason, files: all, cmdlineBefore, neededBytes, freeBytes };
}

export function writePlan(partition: BootPartition, plan: FlashPlan): void {
  partition.write(plan.files.map((file) => ({ ...file, secret: file.secrets.some(Boolean) })));
}

function masked(text: string, secrets: string[]): string {
  return secrets.filter((s) => s !== "").reduce((out, secret) => out.split(secret).join("********"), text);
}

/** The plan as an operator reads it: each file, its size, text files in full with secrets masked. */
export function describePlan(plan: FlashPlan, dryRun: boolean): string[] {
  const lines = [`${dryRun ? "would write" : "writing"} ${plan.target}`, `format: ${plan.format.name} (${plan.formatReason})`];
  for (const file of plan.files) {
    const size = contentSize(file.content);
    if (file.origin) {
      lines.push(`  ${file.path}  ${size} bytes: ${file.origin}`);
    } else if (dryRun) {
      lines.push(`  ${file.path}  ${size} bytes:`);
      for (const line of masked(String(file.content), file.secrets).trimEnd().split("\n")) lines.push(`    | ${line}`);
    } else lines.push(`  ${file.path}  ${size} bytes${file.secrets.some(Boolean) ? " (holds secrets)" : ""}`);
  }
  lines.push(`room: ${Math.ceil(plan.neededBytes / 1024)} KiB needed, ${Math.floor(plan.freeBytes / 1024)} KiB free`);
  return lines;
}

/** Where flash tells the operator what it does, some lines at a time. */
export type Report = (lines: string[]) => void;

/** An image file holding a node's enrollment token is the operator's to read only. */
function makeOwnerOnly(image: string, report: Report): void {
  const stat = statSync(image);
  if (stat.isFile() && (stat.mode & 0o077) !== 0) {
    chmodSync(image, 0o600);
    report([`${image}: mode set to 0600, it holds the enrollment token now`]);
  }
}

/** Writes one card (its mounted boot partition, or an image file), or with --dry-run shows what it would write. */
export function flashCard(boot: string, node: NodeProvision, common: FlashCommon, report: Report): void {
  const partition = openBootPartition(boot, { staging: common.staging });
  const plan = planFlash(partition, node, common);
  report(describePlan(plan, common.dryRun));
  if (common.dryRun) return;
  makeOwnerOnly(boot, report);
  writePlan(partition, plan);
  report([`node ${node.nodeId}: done. On first boot the Pi installs the agent and registers with ${common.hubUrl}.`]);
}
