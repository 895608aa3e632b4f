// A first-boot format: one way a Raspberry Pi OS image runs something once
// at its first boot. Every card gets the same edgefed/ directory (the agent,
// agent.env, install.sh: first-boot-files.ts); a format adds the files and
// cmdline.txt tokens that make that image's first boot run install.sh.
// The formats flash knows are listed in ./index.ts.
import type { BootPartition } from "../boot-partition.ts";
import type { PlannedFile } from "../first-boot-files.ts";
import type { FlashCommon, NodeProvision } from "../flash-options.ts";

export interface FirstBootFormat {
  /** As `--format` takes it and flash prints it. */
  readonly name: string;
  /**
   * Why this format fits `partition` ("user-data on the boot partition: ..."),
   * or null when nothing on it says so. Detection asks the formats in the
   * index's order and takes the first that answers.
   */
  recognise(partition: BootPartition): string | null;
  /** The files that make first boot run edgefed/install.sh, in write order. They go into the install-id. */
  files(node: NodeProvision, common: FlashCommon): PlannedFile[];
  /** Files that name the install-id itself (cloud-init's instance id), written after edgefed/install-id. */
  filesNamingInstall(node: NodeProvision, installId: string): PlannedFile[];
  /** The tokens flash appends to cmdline.txt so that the image starts this format at boot. */
  cmdlineTokens(installId: string): string[];
  /**
   * Whether a cmdline.txt token starts this format (flash's own from an
   * earlier writing, or the same mechanism left by another tool). Tokens
   * that any format claims are removed before the chosen format's are added.
   */
  claimsCmdlineToken(token: string): boolean;
}
