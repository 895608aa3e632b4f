// The boot partition flash writes into: either a mounted directory (a card in
// a reader) or the FAT partition inside a whole-disk image file, which is
// written with mtools so that no root, loop device or mount is needed and the
// rest of the image is left byte for byte as it was.
import { spawnSync } from "node:child_process";
import { closeSync, existsSync, fsyncSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, renameSync, rmSync, statfsSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fatFileSystemBytes, findFatPartition, isFatBootSector, PartitionError, SECTOR, type FatPartition } from "./partition-table.ts";

/** A file to put on the boot partition: a path relative to its root ("edgefed/agent.env"), and the bytes or a local file to copy. */
export interface BootFile {
  path: string;
  content: string | Uint8Array | { copyFrom: string };
  /** Holds a secret: owner-only where the file system keeps modes (a staging directory). */
  secret?: boolean;
}

export interface BootPartition {
  /** For messages: which partition of what. */
  readonly description: string;
  read(path: string): string | null;
  /** Bytes the partition would free if `path` were overwritten (its clusters), 0 when it does not exist. */
  allocatedBytes(path: string): number;
  freeBytes(): number;
  /** Bytes `size` bytes of content take up, rounded up to whole clusters. */
  allocationFor(size: number): number;
  /** Whether a replaced file is written aside first, so that for a moment both copies take room. */
  readonly writesAside: boolean;
  /** Writes the files in order, making directories as needed. Throws BootWriteError once writing has begun. */
  write(files: BootFile[]): void;
}

/** The boot target cannot be used; nothing has been written. */
export class BootTargetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BootTargetError";
  }
}

/** Opens `target`: a directory (which must be on FAT unless `staging`) or an image file. */
export function openBootPartition(target: string, options: { staging?: boolean } = {}): BootPartition {
  if (!existsSync(target)) throw new BootTargetError(`--boot ${target}: no such file or directory`);
  return statSync(target).isDirectory() ? new DirectoryPartition(target, options.staging ?? false) : ImagePartition.open(target);
}

/** Writing failed part-way: some files may be on the card already (cmdline.txt, written last, only if named). */
export class BootWriteError extends Error {
  constructor(readonly path: string, cause: unknown) {
    super(`writing ${path} failed: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = "BootWriteError";
  }
}

/** statfs(2) magic numbers of the FAT family as Linux reports them. */
const FAT_MAGICS = new Map([[0x4d44, "vfat"], [0x2011bab0, "exfat"]]);

function contentBytes(content: BootFile["content"]): Uint8Array {
  if (typeof content === "string") return new TextEncoder().encode(content);
  if (content instanceof Uint8Array) return content;
  return readFileSync(content.copyFrom);
}

export function contentSize(content: BootFile["content"]): number {
  if (typeof content === "string") return Buffer.byteLength(content);
  if (content instanceof Uint8Array) return content.length;
  return statSync(content.copyFrom).size;
}

class DirectoryPartition implements BootPartition {
  readonly description: string;
  private readonly blockBytes: number;

  constructor(private readonly root: string, staging: boolean) {
    const fs = statfsSync(root);
    this.blockBytes = fs.bsize;
    const fat = FAT_MAGICS.get(fs.type);
    if (!fat && !staging) {
      throw new BootTargetError(
        `--boot ${root} is not on a FAT file system (statfs type 0x${fs.type.toString(16)}): a Raspberry Pi boot partition is FAT32. ` +
          "Pass the mounted card's boot partition (often /media/$USER/bootfs), an image file, or --staging to fill a directory you will copy later",
      );
    }
    if (!existsSync(join(root, "cmdline.txt"))) {
      throw new BootTargetError(`--boot ${root} has no cmdline.txt: it does not look like a Raspberry Pi boot partition`);
    }
    this.description = `${staging ? "staging directory" : `${fat} directory`} ${root}`;
  }

  read(path: string): string | null {
    const file = join(this.root, path);
    return existsSync(file) ? readFileSync(file, "utf8") : null;
  }

  allocatedBytes(path: string): number {
    const file = join(this.root, path);
    return existsSync(file) ? this.allocationFor(statSync(file).size) : 0;
  }

  freeBytes(): number {
    const fs = statfsSync(this.root);
    return fs.bavail * fs.bsize;
  }

  allocationFor(size: number): number {
    return Math.ceil(size / this.blockBytes) * this.blockBytes;
  }

  readonly writesAside = true;

  write(files: BootFile[]): void {
    const dirs = new Set<string>();
    for (const file of files) {
      const target = join(this.root, file.path);
      // Write aside, flush, then rename: a card pulled out mid-write keeps the old file whole.
      const aside = `${target}.edgefed-new`;
      try {
        mkdirSync(dirname(target), { recursive: true });
        writeFileSync(aside, contentBytes(file.content), { mode: file.secret ? 0o600 : 0o644 });
        fsyncPath(aside);
        renameSync(aside, target);
        dirs.add(dirname(target));
      } catch (error) {
        rmSync(aside, { force: true });
        throw new BootWriteError(file.path, error);
      }
    }
    // The renames themselves are only durable once their directories are flushed.
    for (const dir of dirs) fsyncPath(dir);
  }
}

function fsyncPath(path: string): void {
  const fd = openSync(path, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function describeSize(bytes: number): string {
  return bytes >= 1 << 20 ? `${Math.round(bytes / (1 << 20))} MiB` : `${Math.round(bytes / 1024)} KiB`;
}

class ImagePartition implements BootPartition {
  private constructor(
    readonly description: string,
    private readonly drive: string,
    private readonly clusterBytes: number,
  ) {}

  static open(image: string): ImagePartition {
    const size = statSync(image).size;
    let partition: FatPartition;
    try {
      partition = findFatPartition(readAt(image, 0, Math.min(size, 34 * SECTOR)), size); // MBR, or GPT header and entries
    } catch (error) {
      if (error instanceof PartitionError) throw new BootTargetError(`--boot ${image}: ${error.message}`);
      throw error;
    }
    // mtools trusts the file system's own size: one larger than its partition would let writes spill into the next.
    const bootSector = readAt(image, partition.offsetBytes, SECTOR);
    if (isFatBootSector(bootSector) && fatFileSystemBytes(bootSector) > partition.sizeBytes) {
      throw new BootTargetError(`--boot ${image}: the FAT file system in partition ${partition.number} claims ${fatFileSystemBytes(bootSector)} bytes, more than the partition's ${partition.sizeBytes}: a corrupt image?`);
    }
    const drive = `${image}@@${partition.offsetBytes}`;
    const info = mtools("minfo", ["-i", drive, "::"], `--boot ${image}: partition ${partition.number} is not a FAT file system mtools can read`);
    const sectorBytes = Number(/sector size: (\d+)/.exec(info)?.[1] ?? SECTOR);
    const clusterSectors = Number(/cluster size: (\d+)/.exec(info)?.[1] ?? 1);
    const where = partition.number === 0 ? "the whole image" : `partition ${partition.number}`;
    return new ImagePartition(`image ${image}, ${where} (FAT, ${describeSize(partition.sizeBytes)})`, drive, sectorBytes * clusterSectors);
  }

  read(path: string): string | null {
    const result = runMtools("mtype", ["-i", this.drive, `::/${path}`]);
    return result.status === 0 ? result.stdout : null;
  }

  allocatedBytes(path: string): number {
    const result = runMtools("mdu", ["-a", "-i", this.drive, `::/${path}`]);
    if (result.status !== 0) return 0;
    const clusters = /\s(\d+)\s*$/.exec(result.stdout.trim().split("\n").at(-1) ?? "");
    return clusters ? Number(clusters[1]) * this.clusterBytes : 0;
  }

  freeBytes(): number {
    const listing = mtools("mdir", ["-i", this.drive, "::/"], "cannot list the boot partition");
    const free = /([\d ]+) bytes free/.exec(listing);
    if (!free) throw new BootTargetError(`cannot tell the free space of ${this.description} from mdir`);
    return Number(free[1]!.replace(/ /g, ""));
  }

  allocationFor(size: number): number {
    return Math.ceil(size / this.clusterBytes) * this.clusterBytes;
  }

  /** mcopy -o frees the old file's clusters before it writes the new one. */
  readonly writesAside = false;

  write(files: BootFile[]): void {
    // mcopy copies files: content given as bytes goes through a private temp dir (secrets included), removed at once.
    const staging = mkdtempSync(join(tmpdir(), "edgefed-flash-"));
    try {
      for (const file of files) {
        try {
          this.writeOne(file, staging);
        } catch (error) {
          throw new BootWriteError(file.path, error);
        }
      }
    } finally {
      rmSync(staging, { recursive: true, force: true });
    }
  }

  private writeOne(file: BootFile, staging: string): void {
    const parts = file.path.split("/");
    for (let depth = 1; depth < parts.length; depth++) {
      const dir = `::/${parts.slice(0, depth).join("/")}`;
      if (runMtools("mdir", ["-b", "-i", this.drive, dir]).status !== 0) mtools("mmd", ["-i", this.drive, dir], `cannot make ${dir}`);
    }
    let source: string;
    if (typeof file.content === "object" && "copyFrom" in file.content) source = file.content.copyFrom;
    else writeFileSync((source = join(staging, parts.join("_"))), contentBytes(file.content), { mode: 0o600 });
    mtools("mcopy", ["-o", "-i", this.drive, source, `::/${file.path}`], `cannot write ${file.path}`);
  }
}

function readAt(file: string, offset: number, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  const fd = openSync(file, "r");
  try {
    readSync(fd, bytes, 0, length, offset);
  } finally {
    closeSync(fd);
  }
  return bytes;
}

function runMtools(command: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  // MTOOLS_SKIP_CHECK: image files have no real disk geometry to check against.
  const result = spawnSync(command, args, { encoding: "utf8", env: { ...process.env, MTOOLS_SKIP_CHECK: "1", MTOOLS_NO_VFAT: "" } });
  if (result.error && (result.error as NodeJS.ErrnoException).code === "ENOENT") {
    throw new BootTargetError(`writing into an image needs mtools (${command} not found): apt-get install mtools`);
  }
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function mtools(command: string, args: string[], what: string): string {
  const result = runMtools(command, args);
  if (result.status !== 0) throw new BootTargetError(`${what}: ${command} said: ${result.stderr.trim() || `exit ${result.status}`}`);
  return result.stdout;
}
