// `bun run flash` against real disk images: an MBR, a FAT boot partition made
// by mkfs.fat, files read back with mtools, user-data checked by cloud-init's
// own schema validator, and first boot's installer run into a scratch root.
import { afterAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { createHash, pbkdf2Sync } from "node:crypto";
import { existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { load } from "js-yaml";
import { BUN, REPO_ROOT, removeTempDirs, tempDir } from "./helpers.ts";
import { cloudInitNetplan, cloudInitSchema } from "./support/cloud-init.ts";
import { loadHubTls } from "../hub/tls/hub-pki.ts";
import { bytesOutsideBoot, envValues, extractBootFile, fakeArm64Binary, makePiImage, PI_CMDLINE, readBootFile, scratchInstall, type PiImage } from "./support/pi-image.ts";

const dir = tempDir("edgefed-flash-");
const agent = fakeArm64Binary(dir, 3 << 20);
const TOKEN = "enroll-Secret-Token-0123456789abcdef";
const PASSPHRASE = "it's a \"quoted\" pass, $HOME";
const sshKey = join(dir, "admin.pub");
writeFileSync(sshKey, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH3j5dJ8Zm7P3s1QbNcW2R6m6yQ0l2m9n0p1q2r3s4t5 operator@laptop\n");

afterAll(removeTempDirs);

function flash(args: string[]): { code: number | null; out: string } {
  const result = spawnSync(BUN, [join(REPO_ROOT, "scripts/flash.ts"), ...args], { encoding: "utf8", env: { PATH: process.env.PATH } });
  return { code: result.status, out: result.stdout + result.stderr };
}

const nodeArgs = (image: string, nodeId = "pi-01") => ["--boot", image, "--node-id", nodeId, "--hub", "http://hub.lan:8080", "--enroll-token", TOKEN, "--agent", agent];
const wifiArgs = ["--wifi-ssid", "Shop Floor", "--wifi-psk", PASSPHRASE, "--wifi-country", "GB"];
const sha256 = (data: Buffer | string) => createHash("sha256").update(data).digest("hex");
const expectedPsk = pbkdf2Sync(PASSPHRASE, "Shop Floor", 4096, 32, "sha1").toString("hex");


function expectSecretsNotShown(out: string): void {
  expect(out).not.toContain(TOKEN);
  expect(out).not.toContain(PASSPHRASE);
  expect(out).not.toContain(expectedPsk);
}

describe("a Trixie image (cloud-init on the boot partition)", () => {
  const image = makePiImage(dir, "trixie.img", { cloudInit: true });
  const outside = sha256(bytesOutsideBoot(image));
  let first: { code: number | null; out: string };

  test("flash picks cloud-init, says so, and writes every file", () => {
    first = flash([...nodeArgs(image.path), ...wifiArgs, "--ssh-key", sshKey]);
    expect(first.code).toBe(0);
    expect(statSync(image.path).mode & 0o777).toBe(0o600); // it holds the token now
    expect(first.out).toContain("format: cloud-init (user-data on the boot partition");
    expectSecretsNotShown(first.out);
    for (const file of ["edgefed/agent.env", "edgefed/core_gates.env", "edgefed/install.sh", "edgefed/edgefed-agent.service", "user-data", "meta-data", "network-config"]) {
      expect(readBootFile(image, file)).not.toBeNull();
    }
    expect(readBootFile(image, "firstrun.sh")).toBeNull();
  });

  test("cloud-init's schema validator accepts the user-data", () => {
    const userData = join(dir, "trixie-user-data");
    writeFileSync(userData, readBootFile(image, "user-data")!);
    const check = spawnSync("cloud-init", ["schema", "--config-file", userData], { encoding: "utf8" });
    expect(check.stdout + check.stderr).toContain("Valid cloud-config");
    expect(check.status).toBe(0);
    const text = readFileSync(userData, "utf8");
    expect(text.startsWith("#cloud-config\n")).toBe(true);
    expect(text).toContain('hostname: "pi-01"');
    expect(text).toContain('  - ["sh", "-c", "[ ! -e /boot/firmware/edgefed/install-id ] || cmp -s /boot/firmware/edgefed/install-id /etc/edgefed/installed-id || sh /boot/firmware/edgefed/install.sh --start"]');
    expect(text).toContain(readFileSync(sshKey, "utf8").trim());
  });

  test("cmdline.txt stays one line: the image's own tokens, then the regulatory domain and the NoCloud instance", () => {
    const cmdline = readBootFile(image, "cmdline.txt")!;
    expect(cmdline.endsWith("\n")).toBe(true);
    expect(cmdline.trimEnd().split("\n")).toHaveLength(1);
    const instance = /^instance-id: "(\S+)"$/m.exec(readBootFile(image, "meta-data")!)![1];
    expect(cmdline).toBe(`${PI_CMDLINE.trimEnd()} cfg80211.ieee80211_regdom=GB ds=nocloud;i=${instance}\n`);
  });

  test("network-config is netplan v2 with wlan0, the regulatory domain, and the derived key, never the passphrase", () => {
    const network = readBootFile(image, "network-config")!;
    expect(network).toContain("network:\n  version: 2\n");
    expect(network).toContain('    wlan0:\n      dhcp4: true\n      optional: true\n      regulatory-domain: "GB"\n      access-points:\n        Shop Floor:\n');
    expect(network).toContain(`password: "${expectedPsk}"`);
    expect(network).not.toContain(PASSPHRASE);
  });

  test("agent.env holds the node's settings; fixed files are copied byte for byte", () => {
    expect(envValues(readBootFile(image, "edgefed/agent.env")!)).toEqual({
      EDGEFED_NODE_ID: "pi-01",
      EDGEFED_HUB_URL: "http://hub.lan:8080",
      EDGEFED_ENROLL_TOKEN: TOKEN,
      EDGEFED_CAPABILITIES: "kernel",
      EDGEFED_KERNEL_CONFIG: "/etc/edgefed/core_gates.env",
    });
    const copied = join(dir, "copied-agent");
    extractBootFile(image, "edgefed/edgefed-agent", copied);
    expect(sha256(readFileSync(copied))).toBe(sha256(readFileSync(agent)));
    expect(readBootFile(image, "edgefed/core_gates.env")).toBe(readFileSync(join(REPO_ROOT, "examples/core_gates.env"), "utf8"));
    expect(readBootFile(image, "edgefed/edgefed-agent.service")).toBe(readFileSync(join(REPO_ROOT, "systemd/edgefed-agent.service"), "utf8"));
  });

  test("what the card held before is kept once, and nothing outside the boot partition changed", () => {
    expect(readBootFile(image, "edgefed/before-flash/cmdline.txt")).toBe(PI_CMDLINE);
    expect(readBootFile(image, "edgefed/before-flash/user-data")).toContain("default user-data of the image");
    expect(sha256(bytesOutsideBoot(image))).toBe(outside);
  });

  test("writing the card again writes the same files and adds nothing twice", () => {
    const files = ["cmdline.txt", "user-data", "meta-data", "network-config", "edgefed/agent.env", "edgefed/before-flash/cmdline.txt"];
    const before = files.map((f) => readBootFile(image, f));
    const again = flash([...nodeArgs(image.path), ...wifiArgs, "--ssh-key", sshKey]);
    expect(again.code).toBe(0);
    expect(files.map((f) => readBootFile(image, f))).toEqual(before);
  });

  test("new settings give cloud-init a new instance id, so it sets the card up again", () => {
    const before = readBootFile(image, "meta-data");
    expect(flash([...nodeArgs(image.path), "--hostname", "bench-7"]).code).toBe(0);
    expect(readBootFile(image, "meta-data")).not.toBe(before);
    const cmdline = readBootFile(image, "cmdline.txt")!;
    expect(cmdline.match(/ds=nocloud/g)).toHaveLength(1);
    expect(cmdline).toContain(`i=${/^instance-id: "(\S+)"$/m.exec(readBootFile(image, "meta-data")!)![1]}`);
  });
});

describe("an SSID and an SSH key comment with C1 control characters (U+0080-U+009F)", () => {
  // Legal in an 802.11 SSID and in a key comment; cloud-init's YAML reader refuses them unescaped
  // (U+0090), or reads a line break (U+0085, NEL, in YAML 1.1), and then a Trixie Pi does nothing at first boot.
  const ssid = "Caf\u0090 \u0085Net";
  const keyLine = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH3j5dJ8Zm7P3s1QbNcW2R6m6yQ0l2m9n0p1q2r3s4t5 op\u009b\u0080@laptop";
  type NetworkConfig = { network: { wifis: { wlan0: { "access-points": Record<string, unknown> } } } };
  const accessPoints = (yaml: string) => Object.keys((load(yaml) as NetworkConfig).network.wifis.wlan0["access-points"]);

  test("user-data and network-config pass cloud-init's readers and read back as given", () => {
    const image = makePiImage(dir, "c1.img", { cloudInit: true });
    const keyFile = join(dir, "c1.pub");
    writeFileSync(keyFile, `${keyLine}\n`);
    const result = flash([...nodeArgs(image.path), "--wifi-ssid", ssid, "--wifi-psk", "password123", "--wifi-country", "GB", "--ssh-key", keyFile]);
    expect(result.code).toBe(0);

    const userData = readBootFile(image, "user-data")!;
    const schema = cloudInitSchema(userData);
    expect(schema.output).toContain("Valid cloud-config");
    expect(schema.status).toBe(0);
    expect((load(userData) as { users: { ssh_authorized_keys: string[] }[] }).users[0]!.ssh_authorized_keys).toEqual([keyLine]);

    const networkConfig = readBootFile(image, "network-config")!;
    expect(accessPoints(networkConfig)).toEqual([ssid]);
    const converted = cloudInitNetplan(networkConfig);
    if ("problem" in converted) throw new Error(`cloud-init refused network-config:\n${converted.problem}`);
    expect(accessPoints(converted.netplan)).toEqual([ssid]); // the netplan cloud-init renders from it names the same network
  });
});

describe("a Bookworm image (no cloud-init files)", () => {
  const image = makePiImage(dir, "bookworm.img", { cloudInit: false });

  test("flash picks firstrun and appends Imager's systemd.run entry once", () => {
    const result = flash([...nodeArgs(image.path, "pi-02"), ...wifiArgs]);
    expect(result.code).toBe(0);
    expect(result.out).toContain("format: firstrun (no cloud-init files on the boot partition");
    expectSecretsNotShown(result.out);
    expect(flash([...nodeArgs(image.path, "pi-02"), ...wifiArgs]).code).toBe(0);
    expect(readBootFile(image, "cmdline.txt")).toBe(
      `${PI_CMDLINE.trimEnd()} cfg80211.ieee80211_regdom=GB systemd.run=/boot/firstrun.sh systemd.run_success_action=reboot systemd.unit=kernel-command-line.target\n`,
    );
    expect(readBootFile(image, "firstrun.sh")).toBe(readFileSync(join(REPO_ROOT, "firmware-config/formats/firstrun.sh"), "utf8"));
    expect(readBootFile(image, "user-data")).toBeNull();
  });

  test("firstrun.conf reads back in a shell as the settings given, the key derived", () => {
    const conf = join(dir, "firstrun.conf");
    writeFileSync(conf, readBootFile(image, "edgefed/firstrun.conf")!);
    const shell = spawnSync("bash", ["-c", `. ${conf}; printf '%s\\n' "$EDGEFED_HOSTNAME" "$WIFI_SSID" "$WIFI_PSK_HEX" "$WIFI_COUNTRY" "$SSH_KEY"`], { encoding: "utf8" });
    expect(shell.stdout).toBe(`pi-02\nShop Floor\n${expectedPsk}\nGB\n\n`);
  });

  test("the firstrun script removes exactly its own cmdline.txt entry", () => {
    const cmdline = join(dir, "bookworm-cmdline.txt");
    writeFileSync(cmdline, readBootFile(image, "cmdline.txt")!);
    const sed = /^sed -i (.*) "\$boot\/cmdline.txt"$/m.exec(readFileSync(join(REPO_ROOT, "firmware-config/formats/firstrun.sh"), "utf8"))![1];
    expect(spawnSync("bash", ["-c", `sed -i ${sed} ${cmdline}`]).status).toBe(0);
    expect(readFileSync(cmdline, "utf8")).toBe(`${PI_CMDLINE.trimEnd()} cfg80211.ieee80211_regdom=GB\n`);
  });

  test("--format cloud-init on the same card swaps the first-boot entry", () => {
    expect(flash([...nodeArgs(image.path, "pi-02"), "--format", "cloud-init"]).code).toBe(0);
    const cmdline = readBootFile(image, "cmdline.txt")!;
    expect(cmdline).toContain(" ds=nocloud;i=edgefed-pi-02-");
    expect(cmdline).not.toContain("systemd.run");
  });
});

describe("first boot's installer, run into a scratch root", () => {
  test("installs binary, owner-only agent.env, unit and user, enables the agent, and takes the token off the card", () => {
    const image = makePiImage(dir, "install.img", { cloudInit: true });
    expect(flash(nodeArgs(image.path, "pi-03")).code).toBe(0);
    const { boot, root, install: run } = scratchInstall(image, dir, "install");
    const installed = run();
    expect(installed.stderr + installed.stdout).toContain("installed the edgefed agent");
    expect(installed.status).toBe(0);

    const env = join(root, "etc/edgefed/agent.env");
    expect(statSync(env).mode & 0o777).toBe(0o600);
    expect(envValues(readFileSync(env, "utf8")).EDGEFED_NODE_ID).toBe("pi-03");
    expect(statSync(join(root, "usr/local/bin/edgefed-agent")).mode & 0o777).toBe(0o755);
    expect(sha256(readFileSync(join(root, "usr/local/bin/edgefed-agent")))).toBe(sha256(readFileSync(agent)));
    expect(readFileSync(join(root, "etc/edgefed/core_gates.env"), "utf8")).toBe(readFileSync(join(REPO_ROOT, "examples/core_gates.env"), "utf8"));
    const wants = join(root, "etc/systemd/system/multi-user.target.wants/edgefed-agent.service");
    expect(lstatSync(wants).isSymbolicLink()).toBe(true);
    expect(readlinkSync(wants)).toBe("/etc/systemd/system/edgefed-agent.service");
    expect(readFileSync(join(root, "etc/passwd"), "utf8")).toMatch(/^edgefed:x:\d+:\d+::\/var\/lib\/edgefed:\/usr\/sbin\/nologin$/m);
    // The group the unit runs the agent with, whose members may use its local API's socket.
    expect(readFileSync(join(root, "etc/group"), "utf8")).toMatch(/^edgefed-strategy:x:\d+:$/m);
    // The token and the binary leave the boot partition; the install-id is recorded last (cloud-init's bootcmd compares them).
    expect(existsSync(join(boot, "edgefed/agent.env"))).toBe(false);
    expect(existsSync(join(boot, "edgefed/edgefed-agent"))).toBe(false);
    expect(readFileSync(join(root, "etc/edgefed/installed-id"), "utf8")).toBe(readFileSync(join(boot, "edgefed/install-id"), "utf8"));

    // Again, as after a power cut before the install-id was recorded: what the card no longer holds comes from where it was installed.
    rmSync(join(root, "etc/edgefed/installed-id"));
    const again = run();
    expect(again.status).toBe(0);
    expect(sha256(readFileSync(join(root, "usr/local/bin/edgefed-agent")))).toBe(sha256(readFileSync(agent)));
    expect(envValues(readFileSync(env, "utf8")).EDGEFED_ENROLL_TOKEN).toBe(TOKEN);
    expect(readFileSync(join(root, "etc/passwd"), "utf8").match(/^edgefed:/gm)).toHaveLength(1);
    expect(readFileSync(join(root, "etc/group"), "utf8").match(/^edgefed-strategy:/gm)).toHaveLength(1);
  });
});

describe("the hub's CA on the card", () => {
  test("--hub-ca puts the CA on the card and agent.env names it; first boot installs it readable for the agent", () => {
    const ca = hubCa();
    const image = makePiImage(dir, "hub-ca.img", { cloudInit: true });
    const args = [...nodeArgs(image.path, "pi-04")];
    args[args.indexOf("--hub") + 1] = "https://hub.lan:8443";
    const result = flash([...args, "--hub-ca", ca]);
    expect(result.out).toContain("edgefed/hub-ca.pem");
    expect(result.code).toBe(0);
    const { root, install: run } = scratchInstall(image, dir, "install-ca");
    expect(run().status).toBe(0);
    const installed = join(root, "etc/edgefed/hub-ca.pem");
    expect(readFileSync(installed, "utf8")).toBe(readFileSync(ca, "utf8"));
    expect(statSync(installed).mode & 0o777).toBe(0o644);
    const env = envValues(readFileSync(join(root, "etc/edgefed/agent.env"), "utf8"));
    expect(env).toMatchObject({ EDGEFED_HUB_URL: "https://hub.lan:8443", EDGEFED_HUB_CA: "/etc/edgefed/hub-ca.pem" });
  });
});

/** A hub's CA certificate, as a hub with TLS on makes it. */
function hubCa(): string {
  const dataDir = join(dir, "hub-data");
  return loadHubTls({ dataDir, extraSans: [], certFile: "", keyFile: "", caFile: "" }, Date.now(), () => {}).caFile;
}

describe("refusals: a clear error and nothing written", () => {
  const cases: [string, (image: PiImage) => string[], RegExp][] = [
    ["a hub CA for a plaintext hub", (i) => [...nodeArgs(i.path), "--hub-ca", hubCa()], /--hub-ca .*: the agent pins a CA only for an https:\/\/ hub/],
    ["a private key given as the hub CA", (i) => [...nodeArgs(i.path).slice(0, 4), "--hub", "https://hub.lan", "--enroll-token", TOKEN, "--agent", agent, "--hub-ca", hubCa().replace(/ca\.pem$/, "ca.key")], /holds a private key: give the CA certificate/],
    ["missing options, all named", (i) => ["--boot", i.path, "--agent", agent], /^(?=[\s\S]*--node-id is missing)(?=[\s\S]*--hub is missing)(?=[\s\S]*--enroll-token is missing)/],
    ["a bad node id", (i) => [...nodeArgs(i.path, "Pi_01")], /--node-id "Pi_01" is not a node id/],
    ["a hub URL that is not http(s)", (i) => [...nodeArgs(i.path).slice(0, 4), "--hub", "mqtt://hub.lan:1883", "--enroll-token", TOKEN, "--agent", agent], /--hub "mqtt:\/\/hub.lan:1883": the hub is reached over http/],
    ["an x86-64 agent binary", (i) => [...nodeArgs(i.path).slice(0, -1), process.execPath], /not arm64: a Pi needs dist\/edgefed-agent-linux-arm64/],
    ["Wi-Fi without its country", (i) => [...nodeArgs(i.path), "--wifi-ssid", "x", "--wifi-psk", "12345678"], /Wi-Fi needs all three/],
    ["a private SSH key", (i) => [...nodeArgs(i.path), "--ssh-key", privateKey()], /is a private key/],
    ["an SSH key line with a control character", (i) => [...nodeArgs(i.path), "--ssh-key", keyWithEscape()], /--ssh-key .*: the key line holds the control character U\+001B: not an OpenSSH public key line/],
    ["a gate config the agent would refuse", (i) => [...nodeArgs(i.path), "--kernel-config", badGateConfig()], /the agent would refuse --kernel-config .*\n.*MIN_NOTIONAL_USD/],
    ["a malformed token, without echoing it", (i) => [...nodeArgs(i.path).slice(0, 6), "--enroll-token", "tok en-SECRET", "--agent", agent], /--enroll-token contains spaces.*value not shown/],
  ];
  test.each(cases)("%s", (_, args, message) => {
    const image = makePiImage(dir, `refuse-${Math.random().toString(36).slice(2)}.img`, { cloudInit: true });
    const before = sha256(readFileSync(image.path));
    const result = flash(args(image));
    expect(result.out).toMatch(message);
    expect(result.out).toContain("nothing was written");
    expect(result.out).not.toContain("SECRET");
    expect(result.code).toBe(2);
    expect(sha256(readFileSync(image.path))).toBe(before);
  });

  function badGateConfig(): string {
    const file = join(dir, "bad_gates.env");
    writeFileSync(file, "MIN_NOTIONAL_USD=abc\n");
    return file;
  }

  /** A terminal escape sequence in the comment: not something an OpenSSH key line holds. */
  function keyWithEscape(): string {
    const file = join(dir, "escape.pub");
    writeFileSync(file, `${readFileSync(sshKey, "utf8").trim()}\x1b[2J\n`);
    return file;
  }

  function privateKey(): string {
    const file = join(dir, "id_ed25519");
    writeFileSync(file, "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n");
    return file;
  }

  const images: [string, PiImage["path"] | (() => PiImage), RegExp][] = [
    ["a partition table without FAT", () => makePiImage(dir, "nofat.img", { cloudInit: false, bootType: 0x83, format: false }), /no FAT partition in the image's partition table \(1: type 0x83, 2: type 0x83\)/],
    ["a FAT-typed partition that holds no FAT file system", () => makePiImage(dir, "unformatted.img", { cloudInit: false, format: false }), /partition 1 is not a FAT file system mtools can read/],
    ["a FAT file system larger than its partition (writes could spill into the root partition)", () => fatOverflowingItsPartition(), /claims \d+ bytes, more than the partition's \d+/],
    ["a boot partition too small for the agent", () => makePiImage(dir, "small.img", { cloudInit: true, bootMiB: 2 }), /has [\d.]+ MiB free, flash needs [\d.]+ MiB/],
  ];
  test.each(images)("%s", (_, make, message) => {
    const image = (make as () => PiImage)();
    const before = sha256(readFileSync(image.path));
    const result = flash(nodeArgs(image.path));
    expect(result.out).toMatch(message);
    expect(result.code).toBe(2);
    expect(sha256(readFileSync(image.path))).toBe(before);
  });

  /** A 16 MiB partition entry whose FAT says it is 20 MiB: mtools would believe the FAT. */
  function fatOverflowingItsPartition(): PiImage {
    const image = makePiImage(dir, "overflow.img", { cloudInit: true, bootMiB: 20 });
    const bytes = readFileSync(image.path);
    bytes.writeUInt32LE((16 << 20) / 512, 446 + 12);
    writeFileSync(image.path, bytes);
    return image;
  }

  test("a cmdline.txt of two lines", () => {
    const image = makePiImage(dir, "twolines.img", { cloudInit: true });
    spawnSync("bash", ["-c", `printf 'root=x rootwait\\nquiet\\n' > ${dir}/c2 && MTOOLS_SKIP_CHECK=1 mcopy -o -i ${image.drive} ${dir}/c2 ::/cmdline.txt`]);
    const result = flash(nodeArgs(image.path));
    expect(result.out).toContain("cmdline.txt has 2 lines, but the firmware reads only the first");
    expect(result.code).toBe(2);
  });

  test("a directory that is not on FAT, unless --staging", () => {
    const boot = join(dir, "not-fat");
    mkdirSync(boot);
    writeFileSync(join(boot, "cmdline.txt"), PI_CMDLINE);
    const refused = flash(nodeArgs(boot));
    expect(refused.out).toMatch(/is not on a FAT file system .* or --staging/);
    expect(refused.code).toBe(2);
    expect(readFileSync(join(boot, "cmdline.txt"), "utf8")).toBe(PI_CMDLINE);
    const staged = flash([...nodeArgs(boot), ...wifiArgs, "--staging"]);
    expect(staged.code).toBe(0);
    for (const secret of ["edgefed/agent.env", "edgefed/firstrun.conf"]) expect(statSync(join(boot, secret)).mode & 0o777).toBe(0o600);
    expect(envValues(readFileSync(join(boot, "edgefed/agent.env"), "utf8")).EDGEFED_NODE_ID).toBe("pi-01");
    expect(readFileSync(join(boot, "cmdline.txt"), "utf8")).toContain(" systemd.run=/boot/firstrun.sh ");
  });
});

test("--dry-run shows the files with secrets masked and writes nothing", () => {
  const image = makePiImage(dir, "dry.img", { cloudInit: true });
  const before = sha256(readFileSync(image.path));
  const result = flash([...nodeArgs(image.path), ...wifiArgs, "--dry-run"]);
  expect(result.code).toBe(0);
  expect(result.out).toContain("would write image");
  expect(result.out).toContain("EDGEFED_ENROLL_TOKEN=********");
  expect(result.out).toContain('password: "********"');
  expect(result.out).toContain("EDGEFED_HUB_URL=http://hub.lan:8080");
  expectSecretsNotShown(result.out);
  expect(sha256(readFileSync(image.path))).toBe(before);
});

describe("--fleet: one image per row of a CSV", () => {
  const template = makePiImage(dir, "template.img", { cloudInit: true });
  const templateHash = sha256(readFileSync(template.path));
  const common = ["--hub", "http://hub.lan:8080", "--enroll-token", TOKEN, "--agent", agent];
  const image = (path: string): PiImage => ({ ...template, path, drive: `${path}@@${template.bootOffset}` });

  test("writes <node_id>.img per row from the template, each with its own settings", () => {
    const out = join(dir, "cards");
    mkdirSync(out);
    const csv = join(dir, "fleet.csv");
    writeFileSync(csv, `node_id,hostname,wifi_ssid,wifi_psk,wifi_country\npi-10,,,,\npi-11,bench-11,Shop Floor,"${PASSPHRASE.replace(/"/g, '""')}",GB\npi-12,,,,\n`);
    const result = flash(["--fleet", csv, "--boot-template", template.path, "--out-dir", out, ...common]);
    expect(result.code).toBe(0);
    expectSecretsNotShown(result.out);
    for (const [nodeId, hostname] of [["pi-10", "pi-10"], ["pi-11", "bench-11"], ["pi-12", "pi-12"]]) {
      const card = image(join(out, `${nodeId}.img`));
      expect(envValues(readBootFile(card, "edgefed/agent.env")!).EDGEFED_NODE_ID).toBe(nodeId);
      expect(statSync(card.path).mode & 0o777).toBe(0o600);
      expect(readBootFile(card, "meta-data")).toContain(`local-hostname: "${hostname}"`);
    }
    expect(readBootFile(image(join(out, "pi-11.img")), "network-config")).toContain(`password: "${expectedPsk}"`);
    expect(readBootFile(image(join(out, "pi-10.img")), "network-config")).toBeNull();
    expect(spawnSync("ls", [out], { encoding: "utf8" }).stdout.split("\n").filter(Boolean)).toEqual(["pi-10.img", "pi-11.img", "pi-12.img"]);
    expect(sha256(readFileSync(template.path))).toBe(templateHash);
  });

  test("a bad row stops the run before any image is made, naming its line", () => {
    const out = join(dir, "cards-bad");
    mkdirSync(out);
    const csv = join(dir, "fleet-bad.csv");
    writeFileSync(csv, "node_id,hostname\npi-20,\n\nPi_21,\npi-22,PI-20\n");
    const result = flash(["--fleet", csv, "--boot-template", template.path, "--out-dir", out, ...common]);
    expect(result.code).toBe(2);
    expect(result.out).toContain(`${csv} line 4 node_id "Pi_21" is not a node id`);
    expect(result.out).toContain(`${csv} line 5: hostname pi-20 is already on line 2`);
    expect(spawnSync("ls", [out], { encoding: "utf8" }).stdout).toBe("");
  });
});
