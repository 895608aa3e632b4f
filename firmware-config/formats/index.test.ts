// The registry's contract: what every first-boot format must hold to, so a
// format added to FIRST_BOOT_FORMATS is checked here with no test of its own.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { removeTempDirs, tempDir } from "../../test/helpers.ts";
import { PI_CMDLINE } from "../../test/support/pi-image.ts";
import { openBootPartition, type BootPartition } from "../boot-partition.ts";
import { FLASH_HELP } from "../flash-options.ts";
import { detectFormat, FIRST_BOOT_FORMATS, FORMAT_NAMES, formatNamed, isFirstBootToken } from "./index.ts";

afterAll(removeTempDirs);

/** A staging directory that looks like a boot partition holding `files` besides cmdline.txt. */
function bootPartition(files: string[]): BootPartition {
  const dir = join(tempDir("edgefed-formats-"), "boot");
  mkdirSync(dir);
  writeFileSync(join(dir, "cmdline.txt"), PI_CMDLINE);
  for (const file of files) writeFileSync(join(dir, file), "");
  return openBootPartition(dir, { staging: true });
}

const INSTALL_ID = "edgefed-pi-01-0123456789ab";

describe("every registered first-boot format", () => {
  test("has its own name, which --format takes and --help lists", () => {
    expect(new Set(FORMAT_NAMES).size).toBe(FIRST_BOOT_FORMATS.length);
    expect(FLASH_HELP).toContain(`--format ${FORMAT_NAMES.join("|")}`);
    for (const format of FIRST_BOOT_FORMATS) expect(formatNamed(format.name)).toBe(format);
    expect(formatNamed("no-such-format")).toBeUndefined();
  });

  test.each(FIRST_BOOT_FORMATS.map((f) => [f.name, f] as const))("%s claims its own cmdline.txt tokens, and no other format does", (_, format) => {
    const tokens = format.cmdlineTokens(INSTALL_ID);
    expect(tokens.length).toBeGreaterThan(0);
    for (const token of tokens) {
      expect(token).not.toMatch(/\s/); // one token each: cmdline.txt is split at white space
      expect(format.claimsCmdlineToken(token)).toBe(true);
      for (const other of FIRST_BOOT_FORMATS.filter((f) => f !== format)) expect({ other: other.name, claims: other.claimsCmdlineToken(token) }).toEqual({ other: other.name, claims: false });
    }
    for (const kernelToken of PI_CMDLINE.trim().split(" ")) expect(isFirstBootToken(kernelToken)).toBe(false);
  });
});

describe("detectFormat", () => {
  test("cloud-init when the boot partition holds one of NoCloud's files, saying which", () => {
    for (const file of ["user-data", "meta-data", "network-config"]) {
      const { format, reason } = detectFormat(bootPartition([file]));
      expect(format.name).toBe("cloud-init");
      expect(reason).toBe(`${file} on the boot partition: Raspberry Pi OS Trixie and later boot with cloud-init`);
    }
  });

  test("firstrun otherwise, naming the formats the partition does not look like", () => {
    const { format, reason } = detectFormat(bootPartition(["config.txt"]));
    expect(format.name).toBe("firstrun");
    expect(reason).toBe("no cloud-init files on the boot partition: Raspberry Pi OS Bookworm runs firstrun.sh");
  });

  test("the last format recognises any boot partition, so detection always answers", () => {
    expect(FIRST_BOOT_FORMATS.at(-1)!.recognise(bootPartition([]))).not.toBeNull();
  });
});
