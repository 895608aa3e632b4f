// cloud-init's NoCloud source, as Raspberry Pi OS Trixie boots: user-data,
// meta-data and network-config on the boot partition, and
// `ds=nocloud;i=<instance-id>` on the kernel command line.
import { COLLECTION_STYLE, dump, visit } from "js-yaml";
import type { BootPartition } from "../boot-partition.ts";
import { BOOT_DIR, FLASH_MARK, PI_BOOT_MOUNT, wpaPsk, type PlannedFile } from "../first-boot-files.ts";
import type { FlashCommon, NodeProvision, Wifi } from "../flash-options.ts";
import type { FirstBootFormat } from "./format.ts";

/** The files cloud-init's NoCloud source reads from the boot partition. */
const NOCLOUD_FILES = ["user-data", "meta-data", "network-config"];

/**
 * YAML that cloud-init's reader (PyYAML, YAML 1.1) reads back as written:
 * every string value double-quoted, so that a host name such as 1234 or "on"
 * stays a string; characters YAML may not carry as they are (C0 and C1
 * controls, U+FFFE) or that YAML 1.1 reads as a line break (U+0085, U+2028)
 * escaped; keys quoted where YAML 1.1 would read them as something else.
 * Lines are never folded, and a command (a list in a list) stays on one line.
 */
export function toYaml(value: object): string {
  return dump(value, {
    quoteStyle: "double",
    forceQuotes: true,
    lineWidth: -1,
    transform: (documents) =>
      visit(documents, (node, { parent }) => {
        if (node.kind === "sequence" && parent?.kind === "sequence") node.style = COLLECTION_STYLE.FLOW;
      }),
  });
}

export function renderUserData(node: NodeProvision, common: FlashCommon): string {
  // With an SSH key: an admin who logs in with it only (no password), and sshd on.
  const admin = common.sshKey
    ? { name: common.sshUser, groups: ["sudo", "adm"], shell: "/bin/bash", lock_passwd: true, sudo: "ALL=(ALL) NOPASSWD:ALL", ssh_authorized_keys: [common.sshKey] }
    : null;
  // bootcmd runs on every boot, runcmd only once per instance: cloud-init marks a
  // module done before running it, so a power cut during a runcmd install would
  // never be retried. The installer runs until /etc/edgefed holds this card's install-id.
  const dir = `${PI_BOOT_MOUNT}/${BOOT_DIR}`;
  const install = `[ ! -e ${dir}/install-id ] || cmp -s ${dir}/install-id /etc/edgefed/installed-id || sh ${dir}/install.sh --start`;
  const config = {
    hostname: node.hostname,
    manage_etc_hosts: true,
    ssh_pwauth: false,
    ...(admin ? { users: [admin] } : {}),
    bootcmd: [["sh", "-c", install]],
    ...(admin ? { runcmd: [["systemctl", "enable", "--now", "ssh"]] } : {}),
  };
  return `#cloud-config\n# ${FLASH_MARK} for node ${node.nodeId}: first boot installs the edgefed agent from ${dir}.\n${toYaml(config)}`;
}

/** netplan v2, as cloud-init's NoCloud reads network-config: wired DHCP, and the Wi-Fi network when given. */
export function renderNetworkConfig(wifi: Wifi): string {
  const wlan0 = { dhcp4: true, optional: true, "regulatory-domain": wifi.country, "access-points": { [wifi.ssid]: { password: wpaPsk(wifi) } } };
  return `# ${FLASH_MARK}\n${toYaml({ network: { version: 2, ethernets: { eth0: { dhcp4: true, optional: true } }, wifis: { wlan0 } } })}`;
}

export function renderMetaData(node: NodeProvision, instanceId: string): string {
  return `# ${FLASH_MARK}\n${toYaml({ "instance-id": instanceId, "local-hostname": node.hostname })}`;
}

export const cloudInit: FirstBootFormat = {
  name: "cloud-init",

  recognise(partition: BootPartition) {
    const found = NOCLOUD_FILES.find((name) => partition.read(name) !== null);
    return found ? `${found} on the boot partition: Raspberry Pi OS Trixie and later boot with cloud-init` : null;
  },

  files(node: NodeProvision, common: FlashCommon): PlannedFile[] {
    const files: PlannedFile[] = [];
    if (node.wifi) files.push({ path: "network-config", content: renderNetworkConfig(node.wifi), secrets: [wpaPsk(node.wifi)] });
    files.push({ path: "user-data", content: renderUserData(node, common), secrets: [] });
    return files;
  },

  filesNamingInstall(node: NodeProvision, installId: string): PlannedFile[] {
    // cloud-init runs its once-per-instance modules again for a new instance id: a card written anew is set up anew.
    return [{ path: "meta-data", content: renderMetaData(node, installId), secrets: [] }];
  },

  cmdlineTokens: (installId: string) => [`ds=nocloud;i=${installId}`],

  claimsCmdlineToken: (token: string) => token.startsWith("ds=nocloud"),
};
