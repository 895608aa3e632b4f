// The first-boot formats flash can write. `--format`'s choices, detection
// ("which format and why") and the cmdline.txt clean-up all read this list.
// To add a format: a module in this folder exporting a FirstBootFormat
// (./format.ts), and its line below.
import type { BootPartition } from "../boot-partition.ts";
import { cloudInit } from "./cloud-init.ts";
import { firstrun } from "./firstrun.ts";
import type { FirstBootFormat } from "./format.ts";

export type { FirstBootFormat } from "./format.ts";

/**
 * In the order detection asks them: the first that recognises the boot
 * partition is used. firstrun recognises any partition, so it stays last.
 */
export const FIRST_BOOT_FORMATS: readonly FirstBootFormat[] = [
  cloudInit,
  firstrun,
];

export const FORMAT_NAMES = FIRST_BOOT_FORMATS.map((format) => format.name);

export function formatNamed(name: string): FirstBootFormat | undefined {
  return FIRST_BOOT_FORMATS.find((format) => format.name === name);
}

/** The format the boot partition calls for, and why: what it holds, and which formats it does not look like. */
export function detectFormat(partition: BootPartition): { format: FirstBootFormat; reason: string } {
  const passedOver: string[] = [];
  for (const format of FIRST_BOOT_FORMATS) {
    const reason = format.recognise(partition);
    if (reason !== null) return { format, reason: passedOver.length ? `no ${passedOver.join(" or ")} files on the boot partition: ${reason}` : reason };
    passedOver.push(format.name);
  }
  throw new Error(`no first-boot format recognises ${partition.description}: the last in FIRST_BOOT_FORMATS must recognise any boot partition`);
}

/** Whether a cmdline.txt token starts some first-boot format: flash removes these before it adds the chosen format's. */
export function isFirstBootToken(token: string): boolean {
  return FIRST_BOOT_FORMATS.some((format) => format.claimsCmdlineToken(token));
}
