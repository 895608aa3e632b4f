// The files a card needs for its first boot, rendered from one node's
// settings: the edgefed/ directory every card gets, then what its first-boot
// format (formats/) adds. Pure apart from reading the files it copies (their
// bytes go into the install-id): the same settings and files give the same
// bytes, so writing a card twice writes it the same.
import { createHash, pbkdf2Sync, type Hash } from "node:crypto";
import { closeSync, openSync, readSync } from "node:fs";
import { join } from "node:path";
import { agentEnvLine } from "../protocol/agent-env.ts";
import type { BootFile } from "./boot-partition.ts";
import type { FlashCommon, NodeProvision, Wifi } from "./flash-options.ts";
import type { FirstBootFormat } from "./formats/format.ts";

/** Where flash keeps its files on the boot partition; first boot reads them from here. */
export const BOOT_DIR = "edgefed";
/** Where install.sh puts the hub's CA on the Pi (agent.env's EDGEFED_HUB_CA names it). */
export const HUB_CA_PATH = "/etc/edgefed/hub-ca.pem";
/** Where the boot partition is mounted on Raspberry Pi OS Bookworm and Trixie. */
export const PI_BOOT_MOUNT = "/boot/firmware";
/** The agent's systemd unit, copied to the card as it is. */
const AGENT_UNIT = join(import.meta.dir, "../systemd/edgefed-agent.service");
/** The first line of everything flash renders: how flash tells its own files from what was there before. */
export const FLASH_MARK = "written by edgefed flash";

export interface PlannedFile extends BootFile {
  /** Secret values inside `content`, masked when shown. */
  secrets: string[];
  /** Where fixed content comes from; a dry run names it instead of printing it. */
  origin?: string;
}

/** The WPA2 pre-shared key (IEEE 802.11i: PBKDF2-SHA1 of passphrase and SSID, 4096 rounds): the card never holds the passphrase. */
export function wpaPsk(wifi: Wifi): string {
  if (/^[0-9a-fA-F]{64}$/.test(wifi.passphrase)) return wifi.passphrase.toLowerCase();
  return pbkdf2Sync(wifi.passphrase, wifi.ssid, 4096, 32, "sha1").toString("hex");
}

export function renderAgentEnv(node: NodeProvision, common: FlashCommon): string {
  return [
    `# /etc/edgefed/agent.env for node ${node.nodeId}, ${FLASH_MARK}. Owner-only: it holds the enrollment token`,
    "# until the node has registered (after that the token is never sent again).",
    agentEnvLine("nodeId", node.nodeId),
    agentEnvLine("hubUrl", common.hubUrl),
    ...(common.hubCa ? [agentEnvLine("hubCa", HUB_CA_PATH)] : []),
    agentEnvLine("enrollToken", common.enrollToken),
    agentEnvLine("capabilities", common.capabilities),
    agentEnvLine("kernelConfig", "/etc/edgefed/core_gates.env"),
    "",
  ].join("\n");
}

/**
 * The id of one writing of a card, from everything written: the same
 * settings and files give the same id, anything else a new one, the agent
 * binary included. It is cloud-init's instance id (cloud-init runs its
 * per-instance modules again for a new one) and the installer's marker (a
 * card written again with only a new binary must install it).
 */
export function installId(node: NodeProvision, files: PlannedFile[]): string {
  const digest = createHash("sha256");
  for (const file of files) {
    digest.update(file.path).update("\0");
    if (typeof file.content === "object" && "copyFrom" in file.content) hashFile(digest, file.content.copyFrom);
    else digest.update(file.content);
    digest.update("\0");
  }
  return `edgefed-${node.nodeId}-${digest.digest("hex").slice(0, 12)}`;
}

/** Feeds a file to the hash in 1 MiB pieces: the agent binary is 105 MB. */
function hashFile(digest: Hash, path: string): void {
  const chunk = Buffer.alloc(1 << 20);
  const fd = openSync(path, "r");
  try {
    for (let read; (read = readSync(fd, chunk, 0, chunk.length, null)) > 0; ) digest.update(chunk.subarray(0, read));
  } finally {
    closeSync(fd);
  }
}

/** A file flash copies as it is, from the repo (or the operator's --agent and --kernel-config). */
export function fixedFile(path: string, source: string): PlannedFile {
  return { path, content: { copyFrom: source }, secrets: [], origin: source };
}

/**
 * Everything flash writes except cmdline.txt, in write order: the edgefed/
 * directory first, then what makes first boot use it, so that a write cut
 * short leaves a card that does not start half a setup.
 */
export function renderFirstBootFiles(node: NodeProvision, common: FlashCommon, format: FirstBootFormat): { files: PlannedFile[]; installId: string } {
  const files: PlannedFile[] = [
    fixedFile(`${BOOT_DIR}/edgefed-agent`, common.agentBinary),
    fixedFile(`${BOOT_DIR}/core_gates.env`, common.kernelConfig),
    fixedFile(`${BOOT_DIR}/edgefed-agent.service`, AGENT_UNIT),
    fixedFile(`${BOOT_DIR}/install.sh`, join(import.meta.dir, "install.sh")),
    // Public: the one CA the agent trusts for its hub (it stays on the card).
    ...(common.hubCa ? [fixedFile(`${BOOT_DIR}/hub-ca.pem`, common.hubCa)] : []),
    { path: `${BOOT_DIR}/agent.env`, content: renderAgentEnv(node, common), secrets: [common.enrollToken] },
    ...format.files(node, common),
  ];
  // What this writing of the card installs: install.sh records it in /etc/edgefed/installed-id when done.
  const id = installId(node, files);
  files.push({ path: `${BOOT_DIR}/install-id`, content: `${id}\n`, secrets: [] }, ...format.filesNamingInstall(node, id));
  return { files, installId: id };
}
