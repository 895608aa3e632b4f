// `flash --fleet`: one image per row of a fleet CSV, each a copy of a
// template image with that node's first boot written into it. Every row is
// planned before the first copy is made, and a copy carries its final name
// only once it is complete.
import { chmodSync, constants, copyFileSync, existsSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { BootWriteError, openBootPartition } from "./boot-partition.ts";
import { parseFleet } from "./fleet-csv.ts";
import { describePlan, FlashError, planFlash, writePlan, type Report } from "./flash.ts";
import { FlashOptionsError, type FlashCommon } from "./flash-options.ts";

export function flashFleet(fleetCsv: string, template: string, outDir: string, common: FlashCommon, report: Report): void {
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
      report([`--- ${image}`, ...describePlan(plans[i]!, true)]);
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
    report([`node ${node.nodeId}: ${image}`]);
  }
  if (!common.dryRun) report([`${nodes.length} image(s) in ${outDir}; write each to its card (e.g. dd or Raspberry Pi Imager's "use custom").`]);
}
