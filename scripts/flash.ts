// `bun run flash`: prepares a Raspberry Pi's SD card (or image) so that its
// first boot installs the edgefed agent and the node registers with the hub.
// The work is in firmware-config/; this maps its errors to exit codes.
// Everything is checked before anything is written: exit 2 means nothing was,
// exit 1 that writing failed part-way.
import { BootTargetError, BootWriteError } from "../firmware-config/boot-partition.ts";
import { flashCard, FlashError, type Report } from "../firmware-config/flash.ts";
import { FLASH_HELP, FlashOptionsError, parseFlashArgs } from "../firmware-config/flash-options.ts";
import { flashFleet } from "../firmware-config/fleet.ts";
import { UsageError } from "../lib/command-line.ts";

const say: Report = (lines) => console.log(lines.join("\n"));

try {
  const request = parseFlashArgs(process.argv.slice(2), process.env);
  if (request === "help") console.log(FLASH_HELP);
  else if (request.kind === "single") flashCard(request.boot, request.node, request.common, say);
  else flashFleet(request.fleetCsv, request.template, request.outDir, request.common, say);
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
