// `bun run flash`: prepares a Raspberry Pi's SD card (or image) so that its
// first boot installs the edgefed agent and the node registers with the hub.
// Everything is checked before anything is written: exit 2 means nothing was,
// exit 1 that writing failed part-way.
import { chmodSync, constants, copyFileSync, existsSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { BootTargetError, BootWriteError, openBootPartition } from "../firmware-config/boot-partition.ts";
import { parseFleet } from "../firmware-config/fleet-csv.ts";
import { describePlan, FlashError, planFlash, writePlan } from "../firmware-config/flash.ts";
import { FLASH_HELP, FlashOptionsError, parseFlashArgs, type FlashCommon, type NodeProvision } from "../firmware-config/flash-options.ts";
import { UsageError } from "../lib/command-line.ts";

const say = (lines: string[]) => console.log(lines.join("\n"));

/** An image file holding a node's enrollment token is the operator's to read only. */
function makeOwnerOnly(image: string): void {
  const stat = statSync(image);
  if (stat.isFile() && (stat.mode & 0o077) !== 0) {
    chmodSync(image, 0o600);
    say([`${image}: mode set to 0600, it holds the enrollment token now`]);
  }
}

function flashCard(boot: string, node: NodeProvision, common: FlashCommon): void {
  const partition = openBootPartition(boot, { staging: common.staging });
  const plan = planFlash(partition, node, common);
  say(describePlan(plan, common.dryRun));
  if (common.dryRun) return;
  makeOwnerOnly(boot);
  writePlan(partition, plan);
  say([`node ${node.nodeId}: done. On first boot the Pi installs the agent and registers with ${common.hubUrl}.`]);
}

function flashFleet(fleetCsv: string, template: string, outDir: string, common: FlashCommon): void {
  const problems: string[] = [];
  const nodes = parseFleet(readFileSync(fleetCsv, "utf8"), fleetCsv, problems);
  if (!existsSync(outDir) || !statSync(outDir).isDirectory()) problems.push(`--out-dir ${outDir}: not a directory`);
  if (problems.length) throw new FlashOptionsError(problems);
  // Every row is planned against the template first: a bad row stops the run before any image is made.
  // Each copy starts as the template, so its plan is the one made here.
  const templatePartition = openBootPartition(template);
  const plans = nodes.map((node) => {
    try {
      return planFlash(templatePartition, node, common);
    } catch (error) {
      if (error instanceof FlashError) throw new FlashError(`node ${node.nodeId}: ${error.message}`);
      throw error;
    }
  });
  for (const [i, node] of nodes.entries()) {
    const image = join(outDir, `${node.nodeId}.img`);
    if (common.dryRun) {
      say([`--- ${image}`, ...describePlan(plans[i]!, true)]);
      continue;
    }
    // A copy that is not finished never carries the final name.
    const partial = `${image}.partial`;
    try {
      copyFileSync(template, partial, constants.COPYFILE_FICLONE);
      chmodSync(partial, 0o600); // it will hold the enrollment token
      writePlan(openBootPartition(partial), plans[i]!);
      renameSync(partial, image);
    } catch (error) {
      rmSync(partial, { force: true });
      throw error instanceof BootWriteError ? error : new BootWriteError(image, error);
    }
    say([`node ${node.nodeId}: ${image}`]);
  }
  if (!common.dryRun) say([`${nodes.length} image(s) in ${outDir}; write each to its card (e.g. dd or Raspberry Pi Imager's "use custom").`]);
}

try {
  const request = parseFlashArgs(process.argv.slice(2), process.env);
  if (request === "help") console.log(FLASH_HELP);
  else if (request.kind === "single") flashCard(request.boot, request.node, request.common);
  else flashFleet(request.fleetCsv, request.template, request.outDir, request.common);
} catch (error) {
  if (error instanceof UsageError) {
    console.error(`edgefed flash: ${error.message}`); // a command-line mistake: one line
    process.exit(2);
  }
  if (error instanceof BootWriteError) {
    console.error(`edgefed flash: ${error.message}`);
    console.error("edgefed flash: the card may hold part of the new files (cmdline.txt is written last); fix the cause and write it again");
    process.exit(1);
  }
  if (error instanceof FlashOptionsError || error instanceof BootTargetError || error instanceof FlashError) {
    const problems = error instanceof FlashOptionsError ? error.problems : [error.message];
    for (const line of problems) console.error(`edgefed flash: ${line}`);
    console.error("edgefed flash: nothing was written");
    process.exit(2);
  }
  throw error;
}
