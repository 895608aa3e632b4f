// A small Raspberry Pi OS-like disk image for flash tests: an MBR partition
// table, a FAT boot partition made by mkfs.fat (with cmdline.txt, config.txt,
// and, for a Trixie-like image, cloud-init's files) and a second "root"
// partition filled with a pattern, so a test can tell it was left alone.
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";

export const PI_CMDLINE = "console=serial0,115200 console=tty1 root=PARTUUID=4e639091-02 rootfstype=ext4 fsck.repair=yes rootwait quiet splash\n";
const CONFIG_TXT = "# For more options and information see\n# http://rptl.io/configtxt\ndtparam=audio=on\ncamera_auto_detect=1\narm_64bit=1\n";
/** Trixie ships default cloud-init files on the boot partition. */
const TRIXIE_USER_DATA = "#cloud-config\n# This is the default user-data of the image.\nhostname: raspberrypi\n";
const TRIXIE_META_DATA = "instance-id: rpios-image\n";

export const SECTOR = 512;
const MIB = 1 << 20;

export interface PiImage {
  path: string;
  bootOffset: number;
  /** mtools drive spec of the boot partition. */
  drive: string;
  rootOffset: number;
  rootBytes: number;
}

export interface PiImageOptions {
  cloudInit: boolean;
  bootMiB?: number;
  rootMiB?: number;
  /** MBR type of partition 1 (0x0c: FAT32 LBA, as Raspberry Pi OS). */
  bootType?: number;
  /** false: partition 1 is left unformatted. */
  format?: boolean;
}

export const MTOOLS_ENV = { ...process.env, MTOOLS_SKIP_CHECK: "1" };

function run(command: string, args: string[]): string {
  const result = spawnSync(command, args, { encoding: "utf8", env: MTOOLS_ENV });
  if (result.status !== 0) throw new Error(`${command} ${args.join(" ")}: ${result.stderr || result.error}`);
  return result.stdout;
}

/** Reads a file from the image's boot partition with mtools, or null. */
export function readBootFile(image: PiImage, path: string): string | null {
  const result = spawnSync("mtype", ["-i", image.drive, `::/${path}`], { encoding: "utf8", env: MTOOLS_ENV });
  return result.status === 0 ? result.stdout : null;
}

/** Copies a file out of the boot partition to `to`. */
export function extractBootFile(image: PiImage, path: string, to: string): void {
  run("mcopy", ["-n", "-i", image.drive, `::/${path}`, to]);
}

export function putBootFile(image: PiImage, path: string, content: string | Uint8Array, dir: string): void {
  const local = join(dir, `put-${path.replace(/\//g, "_")}`);
  writeFileSync(local, content);
  run("mcopy", ["-o", "-i", image.drive, local, `::/${path}`]);
}

/** The bytes of the image outside its boot partition (partition table and root partition). */
export function bytesOutsideBoot(image: PiImage): Buffer {
  const all = readFileSync(image.path);
  return Buffer.concat([all.subarray(0, image.bootOffset), all.subarray(image.rootOffset)]);
}

export function makePiImage(dir: string, name: string, options: PiImageOptions): PiImage {
  const bootMiB = options.bootMiB ?? 16;
  const rootMiB = options.rootMiB ?? 2;
  const path = join(dir, name);
  const bootOffset = MIB; // partitions start at 1 MiB, as Raspberry Pi OS images do
  const rootOffset = bootOffset + bootMiB * MIB;
  const rootBytes = rootMiB * MIB;

  const mbr = Buffer.alloc(SECTOR);
  mbr.writeUInt32LE(0x4e639091, 440); // disk signature: the PARTUUID prefix in cmdline.txt
  const entry = (index: number, type: number, startSector: number, sectors: number) => {
    const at = 446 + 16 * index;
    mbr[at + 4] = type;
    mbr.writeUInt32LE(startSector, at + 8);
    mbr.writeUInt32LE(sectors, at + 12);
  };
  entry(0, options.bootType ?? 0x0c, bootOffset / SECTOR, (bootMiB * MIB) / SECTOR);
  entry(1, 0x83, rootOffset / SECTOR, rootBytes / SECTOR);
  mbr[510] = 0x55;
  mbr[511] = 0xaa;
  const fd = openSync(path, "w");
  try {
    writeSync(fd, mbr, 0, SECTOR, 0);
    const pattern = Buffer.alloc(rootBytes);
    for (let i = 0; i < rootBytes; i++) pattern[i] = (i * 31 + 7) & 0xff;
    writeSync(fd, pattern, 0, rootBytes, rootOffset);
  } finally {
    closeSync(fd);
  }

  const image: PiImage = { path, bootOffset, drive: `${path}@@${bootOffset}`, rootOffset, rootBytes };
  if (options.format === false) return image;
  // FAT32 as on a Pi where it fits (65525 clusters and more), FAT16 (4085 and more) or FAT12 below.
  run("mkfs.fat", ["-F", bootMiB >= 64 ? "32" : bootMiB >= 4 ? "16" : "12", "-n", "BOOTFS", "--offset", String(bootOffset / SECTOR), path, String(bootMiB * 1024)]);
  putBootFile(image, "cmdline.txt", PI_CMDLINE, dir);
  putBootFile(image, "config.txt", CONFIG_TXT, dir);
  if (options.cloudInit) {
    putBootFile(image, "user-data", TRIXIE_USER_DATA, dir);
    putBootFile(image, "meta-data", TRIXIE_META_DATA, dir);
  }
  return image;
}

/** A stand-in for the agent binary: an arm64 ELF header and `bytes` in all (flash checks the header, first boot copies it). */
export function fakeArm64Binary(dir: string, bytes: number): string {
  const file = join(dir, `fake-agent-${bytes}`);
  const content = Buffer.alloc(bytes);
  content.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0);
  content.writeUInt16LE(2, 16); // ET_EXEC
  content.writeUInt16LE(0xb7, 18); // EM_AARCH64
  writeFileSync(file, content, { mode: 0o755 });
  return file;
}

/** KEY=VALUE lines, as systemd's EnvironmentFile= reads the env files flash writes. */
export function envValues(text: string): Record<string, string> {
  const lines = text.split("\n").filter((line) => line.trim() && !line.startsWith("#"));
  return Object.fromEntries(lines.map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]));
}

/**
 * First boot into a scratch root instead of the Pi's /: the card's edgefed/
 * directory copied out to `<dir>/<name>-boot`, and install.sh run with
 * --root `<dir>/<name>-root` (given empty user databases for useradd).
 */
export function scratchInstall(image: PiImage, dir: string, name: string): { boot: string; root: string; install(): SpawnSyncReturns<string> } {
  const boot = join(dir, `${name}-boot`);
  const root = join(dir, `${name}-root`);
  mkdirSync(join(root, "etc"), { recursive: true });
  for (const db of ["passwd", "group", "shadow", "gshadow"]) writeFileSync(join(root, "etc", db), "");
  mkdirSync(boot);
  extractBootFile(image, "edgefed", boot);
  return { boot, root, install: () => spawnSync("sh", [join(boot, "edgefed/install.sh"), "--root", root], { encoding: "utf8" }) };
}
