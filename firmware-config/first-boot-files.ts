// The files a card needs for its first boot, rendered from one node's
// settings. Pure apart from reading the files it copies (their bytes go into
// the install-id): the same settings and files give the same bytes, so
// writing a card twice writes it the same.
import { createHash, pbkdf2Sync, type Hash } from "node:crypto";
import { closeSync, openSync, readSync } from "node:fs";
import { join } from "node:path";
import { agentEnvLine } from "../protocol/agent-env.ts";
import type { BootFile } from "./boot-partition.ts";
import { REPO_ROOT, type BootFormat, type FlashCommon, type NodeProvision, type Wifi } from "./flash-options.ts";

/** Where flash keeps its files on the boot partition; first boot reads them from here. */
export const BOOT_DIR = "edgefed";
/** Where the boot partition is mounted on Raspberry Pi OS Bookworm and Trixie. */
const PI_BOOT_MOUNT = "/boot/firmware";
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
    agentEnvLine("enrollToken", common.enrollToken),
    agentEnvLine("capabilities", common.capabilities),
    agentEnvLine("kernelConfig", "/etc/edgefed/core_gates.env"),
    "",
  ].join("\n");
}

/** A YAML scalar: JSON strings are valid YAML double-quoted scalars. */
const yaml = (value: string) => JSON.stringify(value);
/** A POSIX shell word: single quotes, with ' written as '\''. */
const shellWord = (value: string) => `'${value.replace(/'/g, `'\\''`)}'`;

export function renderUserData(node: NodeProvision, common: FlashCommon): string {
  const lines = [
    "#cloud-config",
    `# ${FLASH_MARK} for node ${node.nodeId}: first boot installs the edgefed agent from ${PI_BOOT_MOUNT}/${BOOT_DIR}.`,
    `hostname: ${yaml(node.hostname)}`,
    "manage_etc_hosts: true",
    "ssh_pwauth: false",
  ];
  if (common.sshKey) {
    lines.push(
      "users:",
      `  - name: ${yaml(common.sshUser)}`,
      "    groups: [sudo, adm]",
      "    shell: /bin/bash",
      "    lock_passwd: true",
      '    sudo: "ALL=(ALL) NOPASSWD:ALL"',
      "    ssh_authorized_keys:",
      `      - ${yaml(common.sshKey)}`,
    );
  }
  // bootcmd runs on every boot, runcmd only once per instance: cloud-init marks a
  // module done before running it, so a power cut during a runcmd install would
  // never be retried. The installer runs until /etc/edgefed holds this card's install-id.
  const dir = `${PI_BOOT_MOUNT}/${BOOT_DIR}`;
  lines.push("bootcmd:", `  - [sh, -c, ${yaml(`[ ! -e ${dir}/install-id ] || cmp -s ${dir}/install-id /etc/edgefed/installed-id || sh ${dir}/install.sh --start`)}]`);
  if (common.sshKey) lines.push("runcmd:", "  - [systemctl, enable, --now, ssh]");
  return `${lines.join("\n")}\n`;
}

/** netplan v2, as cloud-init's NoCloud reads network-config: wired DHCP, and the Wi-Fi network when given. */
export function renderNetworkConfig(wifi: Wifi): string {
  return [
    `# ${FLASH_MARK}`,
    "network:",
    "  version: 2",
    "  ethernets:",
    "    eth0:",
    "      dhcp4: true",
    "      optional: true",
    "  wifis:",
    "    wlan0:",
    "      dhcp4: true",
    "      optional: true",
    `      regulatory-domain: ${yaml(wifi.country)}`,
    "      access-points:",
    `        ${yaml(wifi.ssid)}:`,
    `          password: ${yaml(wpaPsk(wifi))}`,
    "",
  ].join("\n");
}

export function renderMetaData(node: NodeProvision, instanceId: string): string {
  // Quoted: a host name such as 1234 or "on" would otherwise reach cloud-init as a number or a boolean.
  return `# ${FLASH_MARK}\ninstance-id: ${yaml(instanceId)}\nlocal-hostname: ${yaml(node.hostname)}\n`;
}

/** firstrun.sh's settings, as shell assignments it sources. */
export function renderFirstrunConf(node: NodeProvision, common: FlashCommon): string {
  const values: Record<string, string> = {
    EDGEFED_HOSTNAME: node.hostname,
    WIFI_SSID: node.wifi?.ssid ?? "",
    WIFI_PSK_HEX: node.wifi ? wpaPsk(node.wifi) : "",
    WIFI_COUNTRY: node.wifi?.country ?? "",
    SSH_USER: common.sshUser,
    SSH_KEY: common.sshKey ?? "",
  };
  return `# ${FLASH_MARK}; firstrun.sh reads this and deletes it\n${Object.entries(values).map(([k, v]) => `${k}=${shellWord(v)}\n`).join("")}`;
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
function fixedFile(path: string, source: string): PlannedFile {
  return { path, content: { copyFrom: source }, secrets: [], origin: source };
}

/**
 * Everything flash writes except cmdline.txt, in write order: the edgefed/
 * directory first, then what makes first boot use it, so that a write cut
 * short leaves a card that does not start half a setup.
 */
export function renderFirstBootFiles(node: NodeProvision, common: FlashCommon, format: BootFormat): { files: PlannedFile[]; installId: string } {
  const agentEnv = renderAgentEnv(node, common);
  const tokenSecret = [common.enrollToken];
  const files: PlannedFile[] = [
    fixedFile(`${BOOT_DIR}/edgefed-agent`, common.agentBinary),
    fixedFile(`${BOOT_DIR}/core_gates.env`, common.kernelConfig),
    fixedFile(`${BOOT_DIR}/edgefed-agent.service`, join(REPO_ROOT, "systemd/edgefed-agent.service")),
    fixedFile(`${BOOT_DIR}/install.sh`, join(import.meta.dir, "install.sh")),
    { path: `${BOOT_DIR}/agent.env`, content: agentEnv, secrets: tokenSecret },
  ];
  const pskSecret = node.wifi ? [wpaPsk(node.wifi)] : [];
  if (format === "firstrun") {
    files.push({ path: `${BOOT_DIR}/firstrun.conf`, content: renderFirstrunConf(node, common), secrets: pskSecret });
    files.push(fixedFile("firstrun.sh", join(import.meta.dir, "firstrun.sh")));
  } else {
    if (node.wifi) files.push({ path: "network-config", content: renderNetworkConfig(node.wifi), secrets: pskSecret });
    files.push({ path: "user-data", content: renderUserData(node, common), secrets: [] });
  }
  // What this writing of the card installs: install.sh records it in /etc/edgefed/installed-id when done.
  const id = installId(node, files);
  files.push({ path: `${BOOT_DIR}/install-id`, content: `${id}\n`, secrets: [] });
  if (format === "cloud-init") files.push({ path: "meta-data", content: renderMetaData(node, id), secrets: [] });
  return { files, installId: id };
}
