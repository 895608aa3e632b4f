// firstrun.sh run for real, as Raspberry Pi OS Bookworm's systemd.run= would
// run it, inside a private mount namespace: copies of /etc, /home and
// /usr/local/bin, and the flashed boot partition at /boot, are bound over the
// real ones, so the script and install.sh change only scratch files. The
// real useradd, install, sed and sh run; systemctl is the one stand-in
// (there is no systemd as PID 1 here), logging what it was asked.
import { afterAll, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BUN, REPO_ROOT, removeTempDirs, tempDir } from "./helpers.ts";
import { fakeArm64Binary, makePiImage, PI_CMDLINE } from "./support/pi-image.ts";

afterAll(removeTempDirs);

/** Mount namespaces need root (CAP_SYS_ADMIN); where they cannot be made the test is skipped, saying why. */
const canUnshare = spawnSync("unshare", ["-m", "--propagation", "private", "true"]).status === 0 && ["/etc", "/boot", "/home", "/usr/local/bin"].every(existsSync);

test.skipIf(!canUnshare)("firstrun.sh sets host name, Wi-Fi and the SSH admin, installs the agent, and removes exactly its own traces", () => {
  const dir = tempDir("edgefed-firstrun-");
  const image = makePiImage(dir, "bookworm.img", { cloudInit: false });
  const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH3j5dJ8Zm7P3s1QbNcW2R6m6yQ0l2m9n0p1q2r3s4t5 operator@laptop";
  writeFileSync(join(dir, "admin.pub"), `${key}\n`);
  const flash = spawnSync(
    BUN,
    [join(REPO_ROOT, "scripts/flash.ts"), "--boot", image.path, "--node-id", "pi-07", "--hostname", "bench-7", "--hub", "http://hub.lan:8080", "--agent", fakeArm64Binary(dir, 1 << 20),
      "--wifi-ssid", "Shop Floor", "--wifi-country", "GB", "--ssh-key", join(dir, "admin.pub")],
    { encoding: "utf8", env: { PATH: process.env.PATH, EDGEFED_ENROLL_TOKEN: "enroll-token-0123456789", EDGEFED_WIFI_PSK: "it's a pass, $HOME" } },
  );
  expect(flash.status).toBe(0);

  // The scratch system: the boot partition's files, a copy of /etc as a fresh Pi has it, empty /home and /usr/local/bin.
  const boot = join(dir, "boot");
  const etc = join(dir, "etc");
  const home = join(dir, "home");
  const localBin = join(dir, "local-bin");
  const stubs = join(dir, "stubs");
  for (const d of [boot, home, localBin, stubs]) mkdirSync(d);
  expect(spawnSync("mcopy", ["-s", "-n", "-i", image.drive, "::/*", boot], { env: { ...process.env, MTOOLS_SKIP_CHECK: "1" } }).status).toBe(0);
  expect(spawnSync("cp", ["-a", "/etc", etc]).status).toBe(0);
  writeFileSync(join(etc, "hostname"), "raspberrypi\n");
  writeFileSync(join(etc, "hosts"), "127.0.0.1\tlocalhost\n127.0.1.1\traspberrypi\n");
  const systemctlLog = join(dir, "systemctl.log");
  writeFileSync(join(stubs, "systemctl"), `#!/bin/sh\necho "$*" >> ${systemctlLog}\n`, { mode: 0o755 });

  // set -e: if any bind fails, the script never runs against the real system.
  const run = spawnSync(
    "unshare",
    ["-m", "--propagation", "private", "sh", "-ec",
      `mount --bind ${etc} /etc; mount --bind ${boot} /boot; mount --bind ${home} /home; mount --bind ${localBin} /usr/local/bin; PATH=${stubs}:$PATH bash /boot/firstrun.sh`],
    { encoding: "utf8", timeout: 60_000 },
  );
  expect(run.stderr).not.toContain("mount:");
  expect(run.status).toBe(0);

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
  // The agent, installed by install.sh, and enabled.
  expect(statSync(join(localBin, "edgefed-agent")).mode & 0o777).toBe(0o755);
  expect(statSync(join(etc, "edgefed/agent.env")).mode & 0o777).toBe(0o600);
  expect(readFileSync(join(etc, "edgefed/agent.env"), "utf8")).toContain("EDGEFED_NODE_ID=pi-07\n");
  expect(readFileSync(join(etc, "edgefed/installed-id"), "utf8")).toBe(readFileSync(join(boot, "edgefed/install-id"), "utf8"));
  expect(readFileSync(join(etc, "passwd"), "utf8")).toMatch(/^edgefed:x:\d+:\d+::\/var\/lib\/edgefed:\/usr\/sbin\/nologin$/m);
  expect(readFileSync(systemctlLog, "utf8").split("\n").filter(Boolean)).toEqual(["enable ssh", "disable userconfig.service", "daemon-reload", "enable edgefed-agent.service"]);
  // Its traces: the script, its settings, the token and binary are gone; cmdline.txt keeps all but its three entries.
  for (const gone of ["firstrun.sh", "edgefed/firstrun.conf", "edgefed/agent.env", "edgefed/edgefed-agent"]) expect(existsSync(join(boot, gone))).toBe(false);
  expect(readFileSync(join(boot, "cmdline.txt"), "utf8")).toBe(`${PI_CMDLINE.trimEnd()} cfg80211.ieee80211_regdom=GB\n`);
}, 90_000);
