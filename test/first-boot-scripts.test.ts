// First boot's scripts run for real, as the Pi runs them: firstrun.sh as
// Raspberry Pi OS Bookworm's systemd.run= runs it, and cloud-init's bootcmd
// (Trixie) on two boots. Each runs inside a private mount namespace: copies of
// /etc, /home and /usr/local/bin, and the flashed boot partition at /boot or
// /boot/firmware, are bound over the real ones, so the scripts change only
// scratch files. The real useradd, install, sed and sh run. Stand-ins log
// what they were asked: systemctl (there is no systemd as PID 1 here), and iw
// and rfkill, which would change this machine's radios; /var/lib/systemd and
// Raspberry Pi OS's imager_custom, where present, are covered by empty tmpfs.
import { afterAll, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BUN, REPO_ROOT, removeTempDirs, tempDir } from "./helpers.ts";
import { fakeArm64Binary, makePiImage, PI_CMDLINE, type PiImage } from "./support/pi-image.ts";

afterAll(removeTempDirs);

/** Mount namespaces need root (CAP_SYS_ADMIN); where they cannot be made the tests are skipped, saying why. */
const canUnshare = spawnSync("unshare", ["-m", "--propagation", "private", "true"]).status === 0 && ["/etc", "/boot", "/home", "/usr/local/bin"].every(existsSync);

interface ScratchSystem {
  boot: string;
  etc: string;
  home: string;
  localBin: string;
  /** What systemctl was asked, a line per call. */
  systemctlCalls(): string[];
  /** What iw and rfkill were asked, a line per call ("iw reg set GB"). */
  radioCalls(): string[];
  /** Runs `script` (sh) with the scratch directories bound over the real ones; the boot partition at `bootMount`. */
  run(script: string, bootMount: "/boot" | "/boot/firmware"): { status: number | null; stderr: string };
}

/** A fresh Pi's system as far as first boot touches it, with `image`'s boot partition. */
function scratchSystem(dir: string, image: PiImage): ScratchSystem {
  const paths = { boot: join(dir, "boot"), etc: join(dir, "etc"), home: join(dir, "home"), localBin: join(dir, "local-bin") };
  const stubs = join(dir, "stubs");
  for (const d of [paths.boot, paths.home, paths.localBin, stubs]) mkdirSync(d);
  expect(spawnSync("mcopy", ["-s", "-n", "-i", image.drive, "::/*", paths.boot], { env: { ...process.env, MTOOLS_SKIP_CHECK: "1" } }).status).toBe(0);
  expect(spawnSync("cp", ["-a", "/etc", paths.etc]).status).toBe(0);
  writeFileSync(join(paths.etc, "hostname"), "raspberrypi\n");
  writeFileSync(join(paths.etc, "hosts"), "127.0.0.1\tlocalhost\n127.0.1.1\traspberrypi\n");
  const log = join(dir, "systemctl.log");
  const radioLog = join(dir, "radio.log");
  writeFileSync(log, "");
  writeFileSync(radioLog, "");
  writeFileSync(join(stubs, "systemctl"), `#!/bin/sh\necho "$*" >> ${log}\n`, { mode: 0o755 });
  for (const radio of ["iw", "rfkill"]) writeFileSync(join(stubs, radio), `#!/bin/sh\necho "${radio} $*" >> ${radioLog}\n`, { mode: 0o755 });
  const cover = ["/var/lib/systemd", "/usr/lib/raspberrypi-sys-mods"].filter(existsSync).map((d) => `mount -t tmpfs none ${d}; `).join("");
  const lines = (file: string) => readFileSync(file, "utf8").split("\n").filter(Boolean);
  return {
    ...paths,
    systemctlCalls: () => lines(log),
    radioCalls: () => lines(radioLog),
    run(script, bootMount) {
      const bindBoot = bootMount === "/boot" ? `mount --bind ${paths.boot} /boot` : `mount -t tmpfs none /boot; mkdir /boot/firmware; mount --bind ${paths.boot} /boot/firmware`;
      // sh -e: if any mount fails, the script never runs against the real system.
      const result = spawnSync(
        "unshare",
        ["-m", "--propagation", "private", "sh", "-ec",
          `mount --bind ${paths.etc} /etc; ${bindBoot}; mount --bind ${paths.home} /home; mount --bind ${paths.localBin} /usr/local/bin; ${cover}PATH=${stubs}:$PATH; ${script}`],
        { encoding: "utf8", timeout: 60_000 },
      );
      expect(result.stderr).not.toContain("mount:");
      return { status: result.status, stderr: result.stderr };
    },
  };
}

function flash(image: PiImage, dir: string, extra: string[], env: Record<string, string> = {}): void {
  const result = spawnSync(BUN, [join(REPO_ROOT, "scripts/flash.ts"), "--boot", image.path, "--hub", "http://hub.lan:8080", "--agent", fakeArm64Binary(dir, 1 << 20), ...extra], {
    encoding: "utf8",
    env: { PATH: process.env.PATH, EDGEFED_ENROLL_TOKEN: "enroll-token-0123456789", ...env },
  });
  expect(result.stderr).toBe("");
  expect(result.status).toBe(0);
}

test.skipIf(!canUnshare)("firstrun.sh sets host name, Wi-Fi and the SSH admin, installs the agent, and removes exactly its own traces", () => {
  const dir = tempDir("edgefed-firstrun-");
  const image = makePiImage(dir, "bookworm.img", { cloudInit: false });
  const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH3j5dJ8Zm7P3s1QbNcW2R6m6yQ0l2m9n0p1q2r3s4t5 operator@laptop";
  writeFileSync(join(dir, "admin.pub"), `${key}\n`);
  flash(image, dir, ["--node-id", "pi-07", "--hostname", "bench-7", "--wifi-ssid", "Shop Floor", "--wifi-country", "GB", "--ssh-key", join(dir, "admin.pub")], { EDGEFED_WIFI_PSK: "it's a pass, $HOME" });
  const pi = scratchSystem(dir, image);
  const { boot, etc, home, localBin } = pi;

  expect(pi.run("bash /boot/firstrun.sh", "/boot").status).toBe(0); // where Bookworm's cmdline.txt entry looks for it

  // Host name, as Imager's fallback does it without imager_custom.
  expect(readFileSync(join(etc, "hostname"), "utf8")).toBe("bench-7\n");
  expect(readFileSync(join(etc, "hosts"), "utf8")).toContain("127.0.1.1\tbench-7");
  // Wi-Fi: a NetworkManager keyfile, owner-only, with the derived key.
  const wifi = join(etc, "NetworkManager/system-connections/edgefed-wifi.nmconnection");
  expect(statSync(wifi).mode & 0o777).toBe(0o600);
  const keyfile = readFileSync(wifi, "utf8");
  expect(keyfile).toContain("ssid=Shop Floor\n");
  expect(keyfile).toMatch(/^psk=[0-9a-f]{64}$/m);
  expect(keyfile).not.toContain("it's a pass");
  // The SSH admin: a user with the key, passwordless sudo, ssh enabled.
  expect(readFileSync(join(etc, "passwd"), "utf8")).toMatch(/^pi:x:\d+:\d+::\/home\/pi:\/bin\/bash$/m);
  expect(readFileSync(join(home, "pi/.ssh/authorized_keys"), "utf8")).toBe(`${key}\n`);
  expect(statSync(join(home, "pi/.ssh/authorized_keys")).mode & 0o777).toBe(0o600);
  expect(statSync(join(etc, "sudoers.d/010-edgefed-admin")).mode & 0o777).toBe(0o440);
  // The agent, installed by install.sh, and enabled (firstrun reboots rather than starting it).
  expect(statSync(join(localBin, "edgefed-agent")).mode & 0o777).toBe(0o755);
  expect(statSync(join(etc, "edgefed/agent.env")).mode & 0o777).toBe(0o600);
  expect(readFileSync(join(etc, "edgefed/agent.env"), "utf8")).toContain("EDGEFED_NODE_ID=pi-07\n");
  expect(readFileSync(join(etc, "edgefed/installed-id"), "utf8")).toBe(readFileSync(join(boot, "edgefed/install-id"), "utf8"));
  expect(readFileSync(join(etc, "passwd"), "utf8")).toMatch(/^edgefed:x:\d+:\d+::\/var\/lib\/edgefed:\/usr\/sbin\/nologin$/m);
  expect(readFileSync(join(etc, "group"), "utf8")).toMatch(/^edgefed-strategy:x:\d+:$/m);
  expect(pi.systemctlCalls()).toEqual(["enable ssh", "disable userconfig.service", "daemon-reload", "enable edgefed-agent.service"]);
  expect(pi.radioCalls()).toEqual(["iw reg set GB", "rfkill unblock wifi"]);
  // Its traces: the script, its settings, the token and binary are gone; cmdline.txt keeps all but its three entries.
  for (const gone of ["firstrun.sh", "edgefed/firstrun.conf", "edgefed/agent.env", "edgefed/edgefed-agent"]) expect(existsSync(join(boot, gone))).toBe(false);
  expect(readFileSync(join(boot, "cmdline.txt"), "utf8")).toBe(`${PI_CMDLINE.trimEnd()} cfg80211.ieee80211_regdom=GB\n`);
}, 90_000);

test.skipIf(!canUnshare)("cloud-init's bootcmd installs and starts the agent on the first boot, does nothing on the next, and installs again for a card written anew", () => {
  const dir = tempDir("edgefed-bootcmd-");
  const image = makePiImage(dir, "trixie.img", { cloudInit: true });
  flash(image, dir, ["--node-id", "pi-08"]);
  const pi = scratchSystem(dir, image);
  const bootcmd = () => {
    const userData = Bun.YAML.parse(readFileSync(join(pi.boot, "user-data"), "utf8")) as { bootcmd: string[][] };
    expect(userData.bootcmd).toHaveLength(1);
    const [sh, flag, command] = userData.bootcmd[0]!;
    expect([sh, flag]).toEqual(["sh", "-c"]);
    return pi.run(`sh -c '${command!.replace(/'/g, `'\\''`)}'`, "/boot/firmware");
  };

  expect(bootcmd().status).toBe(0); // first boot
  expect(statSync(join(pi.etc, "edgefed/agent.env")).mode & 0o777).toBe(0o600);
  expect(readFileSync(join(pi.etc, "edgefed/installed-id"), "utf8")).toBe(readFileSync(join(pi.boot, "edgefed/install-id"), "utf8"));
  expect(pi.systemctlCalls()).toEqual(["daemon-reload", "enable edgefed-agent.service", "restart --no-block edgefed-agent.service"]);

  expect(bootcmd().status).toBe(0); // every later boot: installed, nothing to do
  expect(pi.systemctlCalls()).toHaveLength(3);

  // The card written again (a new token, say): a new install-id, so the next boot installs again.
  writeFileSync(join(pi.boot, "edgefed/install-id"), "edgefed-pi-08-written-again\n");
  writeFileSync(join(pi.boot, "edgefed/agent.env"), readFileSync(join(pi.etc, "edgefed/agent.env"), "utf8").replace("enroll-token-0123456789", "enroll-token-written-again"));
  expect(bootcmd().status).toBe(0);
  expect(readFileSync(join(pi.etc, "edgefed/agent.env"), "utf8")).toContain("EDGEFED_ENROLL_TOKEN=enroll-token-written-again");
  expect(readFileSync(join(pi.etc, "edgefed/installed-id"), "utf8")).toBe("edgefed-pi-08-written-again\n");
  expect(pi.systemctlCalls()).toHaveLength(6);
}, 90_000);
