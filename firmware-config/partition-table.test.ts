import { afterAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BUN, removeTempDirs, tempDir } from "../test/helpers.ts";
import { findFatPartition, isFatBootSector, PartitionError, SECTOR } from "./partition-table.ts";

afterAll(removeTempDirs);

const MIB = 1 << 20;
/** What boot-partition.ts hands findFatPartition: the first 34 sectors. */
const HEAD_SECTORS = 34;

interface MbrEntry {
  type: number;
  start: number;
  sectors: number;
}

/** The first 34 sectors of a disk whose MBR holds `entries` (up to four) and the 0x55AA signature. */
function mbrHead(entries: MbrEntry[]): Uint8Array {
  const head = new Uint8Array(HEAD_SECTORS * SECTOR);
  const view = new DataView(head.buffer);
  view.setUint32(440, 0x4e639091, true); // disk signature, as Raspberry Pi OS images carry
  entries.forEach((entry, i) => {
    const at = 446 + 16 * i;
    head[at + 4] = entry.type;
    view.setUint32(at + 8, entry.start, true);
    view.setUint32(at + 12, entry.sectors, true);
  });
  head[510] = 0x55;
  head[511] = 0xaa;
  return head;
}

/** A GUID's 16 bytes as GPT stores them: the first three groups little-endian, the last two as written. */
function gptGuidBytes(text: string): Uint8Array {
  const hex = text.replace(/-/g, "");
  const bytes = Uint8Array.from(hex.match(/../g)!, (pair) => parseInt(pair, 16));
  return Uint8Array.from([...bytes.subarray(0, 4).reverse(), ...bytes.subarray(4, 6).reverse(), ...bytes.subarray(6, 8).reverse(), ...bytes.subarray(8)]);
}

/** The GUID's bytes in plain text order (what a writer that forgot GPT's mixed endianness would store). */
function plainGuidBytes(text: string): Uint8Array {
  return Uint8Array.from(text.replace(/-/g, "").match(/../g)!, (pair) => parseInt(pair, 16));
}

const BASIC_DATA = "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7";
const EFI_SYSTEM = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B";
const LINUX_FS = "0FC63DAF-8483-4772-8E79-3D69D8477DE4";

interface GptEntry {
  type: Uint8Array;
  first: number;
  last: number;
}

/** A protective MBR, a GPT header at LBA 1 and its entry array at LBA 2 (128 entries of 128 bytes). */
function gptHead(entries: GptEntry[], options: { entrySize?: number; entryCount?: number; signature?: string } = {}): Uint8Array {
  const head = mbrHead([{ type: 0xee, start: 1, sectors: 0xffffffff }]);
  const view = new DataView(head.buffer);
  const header = SECTOR;
  head.set(new TextEncoder().encode(options.signature ?? "EFI PART"), header);
  view.setUint32(header + 8, 0x00010000, true); // revision 1.0
  view.setUint32(header + 12, 92, true); // header size
  view.setBigUint64(header + 24, 1n, true); // this header's LBA
  view.setBigUint64(header + 72, 2n, true); // entry array LBA
  view.setUint32(header + 80, options.entryCount ?? 128, true);
  const size = options.entrySize ?? 128;
  view.setUint32(header + 84, size, true);
  entries.forEach((entry, i) => {
    const at = 2 * SECTOR + i * size;
    head.set(entry.type, at);
    head.set(plainGuidBytes(`00000000-0000-0000-0000-${(i + 1).toString(16).padStart(12, "0")}`), at + 16); // unique GUID
    view.setBigUint64(at + 32, BigInt(entry.first), true);
    view.setBigUint64(at + 40, BigInt(entry.last), true);
  });
  return head;
}

/** A real FAT file system made by mkfs.fat (dosfstools) in a temp file: its bytes and size. */
function mkfsFat(kib: number, extra: string[] = []): Uint8Array {
  const file = join(tempDir("edgefed-fat-"), "fat.img");
  const result = spawnSync("mkfs.fat", [...extra, "-C", file, String(kib)], { encoding: "utf8" });
  if (result.error || result.status !== 0) throw new Error(`mkfs.fat (Debian package dosfstools) failed: ${result.error ?? result.stderr}`);
  expect(statSync(file).size).toBe(kib * 1024);
  return new Uint8Array(readFileSync(file));
}

/** Deterministic bytes (xorshift32), so a failure can be reproduced. */
function pseudoRandomBytes(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    bytes[i] = x & 0xff;
  }
  return bytes;
}

function partitionError(run: () => unknown): PartitionError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(PartitionError);
    return error as PartitionError;
  }
  throw new Error("expected a PartitionError, but findFatPartition returned");
}

describe("findFatPartition with an MBR", () => {
  // Raspberry Pi OS: a FAT32 (LBA) boot partition at 4 MiB, then the Linux root file system.
  const bootStart = 8192;
  const bootSectors = (512 * MIB) / SECTOR;
  const rootStart = bootStart + bootSectors;
  const rootSectors = (2048 * MIB) / SECTOR;
  const imageBytes = (rootStart + rootSectors) * SECTOR;

  test("a FAT32 LBA boot partition first and a Linux partition second: partition 1", () => {
    const head = mbrHead([
      { type: 0x0c, start: bootStart, sectors: bootSectors },
      { type: 0x83, start: rootStart, sectors: rootSectors },
    ]);
    expect(findFatPartition(head, imageBytes)).toEqual({ number: 1, offsetBytes: bootStart * SECTOR, sizeBytes: bootSectors * SECTOR });
  });

  test("the FAT partition second, after a Linux one: partition 2 with its own offset and size", () => {
    const head = mbrHead([
      { type: 0x83, start: 2048, sectors: 4096 },
      { type: 0x0c, start: 6144, sectors: 10240 },
    ]);
    expect(findFatPartition(head, 16384 * SECTOR)).toEqual({ number: 2, offsetBytes: 6144 * SECTOR, sizeBytes: 10240 * SECTOR });
  });

  test("an empty slot before the FAT partition keeps the partition's own number", () => {
    const head = mbrHead([
      { type: 0x00, start: 0, sectors: 0 },
      { type: 0x83, start: 2048, sectors: 2048 },
      { type: 0x0c, start: 4096, sectors: 2048 },
    ]);
    expect(findFatPartition(head, 8192 * SECTOR).number).toBe(3);
  });

  for (const type of [0x01, 0x04, 0x06, 0x0b, 0x0c, 0x0e]) {
    test(`MBR type 0x${type.toString(16).padStart(2, "0")} counts as FAT`, () => {
      const head = mbrHead([{ type, start: 2048, sectors: 2048 }]);
      expect(findFatPartition(head, 4096 * SECTOR)).toEqual({ number: 1, offsetBytes: 2048 * SECTOR, sizeBytes: 2048 * SECTOR });
    });
  }

  test("no FAT partition: a PartitionError that lists each partition's type", () => {
    const head = mbrHead([
      { type: 0x83, start: 2048, sectors: 2048 },
      { type: 0x82, start: 4096, sectors: 2048 },
    ]);
    const error = partitionError(() => findFatPartition(head, 8192 * SECTOR));
    expect(error.message).toContain("no FAT partition");
    expect(error.message).toContain("1: type 0x83");
    expect(error.message).toContain("2: type 0x82");
    expect(error.message).toContain("0x0c");
  });

  test("an MBR with no partitions at all says it is empty", () => {
    const error = partitionError(() => findFatPartition(mbrHead([]), 8192 * SECTOR));
    expect(error.message).toContain("it is empty");
  });

  test("a FAT partition running past the end of the image: an error about truncation", () => {
    const head = mbrHead([
      { type: 0x0c, start: bootStart, sectors: bootSectors },
      { type: 0x83, start: rootStart, sectors: rootSectors },
    ]);
    // The image was cut in the middle of the boot partition.
    const error = partitionError(() => findFatPartition(head, (bootStart + bootSectors - 1) * SECTOR));
    expect(error.message).toContain("partition 1");
    expect(error.message).toContain("truncated");
  });

  test("a FAT partition ending exactly at the end of the image fits", () => {
    const head = mbrHead([{ type: 0x0c, start: 2048, sectors: 2048 }]);
    expect(findFatPartition(head, 4096 * SECTOR).sizeBytes).toBe(2048 * SECTOR);
  });

  test("a FAT partition of zero sectors is refused", () => {
    const head = mbrHead([{ type: 0x0c, start: 2048, sectors: 0 }]);
    partitionError(() => findFatPartition(head, 4096 * SECTOR));
  });

  test("the head may be a view into a larger buffer (non-zero byteOffset)", () => {
    const head = mbrHead([
      { type: 0x83, start: 2048, sectors: 2048 },
      { type: 0x0c, start: 4096, sectors: 2048 },
    ]);
    const bigger = new Uint8Array(head.length + 7);
    bigger.set(head, 7);
    expect(findFatPartition(bigger.subarray(7), 8192 * SECTOR)).toEqual({ number: 2, offsetBytes: 4096 * SECTOR, sizeBytes: 2048 * SECTOR });
  });
});

describe("findFatPartition with a GPT", () => {
  const imageBytes = 64 * MIB;

  test("the guid helper writes GPT's mixed-endian order (checked against the spec's byte layout)", () => {
    // UEFI spec: EBD0A0A2-B9E5-4433-87C0-68B6B72699C7 is stored as A2 A0 D0 EB E5 B9 33 44 87 C0 68 B6 B7 26 99 C7.
    expect(Array.from(gptGuidBytes(BASIC_DATA))).toEqual([0xa2, 0xa0, 0xd0, 0xeb, 0xe5, 0xb9, 0x33, 0x44, 0x87, 0xc0, 0x68, 0xb6, 0xb7, 0x26, 0x99, 0xc7]);
  });

  test("a Microsoft basic data partition is found with its number, offset and size", () => {
    const head = gptHead([
      { type: gptGuidBytes(LINUX_FS), first: 2048, last: 2048 + 4095 },
      { type: gptGuidBytes(BASIC_DATA), first: 8192, last: 8192 + 16383 },
    ]);
    expect(findFatPartition(head, imageBytes)).toEqual({ number: 2, offsetBytes: 8192 * SECTOR, sizeBytes: 16384 * SECTOR });
  });

  test("an EFI system partition counts as FAT", () => {
    const head = gptHead([{ type: gptGuidBytes(EFI_SYSTEM), first: 2048, last: 4095 }]);
    expect(findFatPartition(head, imageBytes)).toEqual({ number: 1, offsetBytes: 2048 * SECTOR, sizeBytes: 2048 * SECTOR });
  });

  test("a type GUID stored in plain byte order is not mistaken for basic data", () => {
    const head = gptHead([{ type: plainGuidBytes(BASIC_DATA), first: 2048, last: 4095 }]);
    partitionError(() => findFatPartition(head, imageBytes));
  });

  test("a GPT without a FAT type: a PartitionError naming the GPT", () => {
    const head = gptHead([
      { type: gptGuidBytes(LINUX_FS), first: 2048, last: 4095 },
      { type: gptGuidBytes(LINUX_FS), first: 4096, last: 8191 },
    ]);
    const error = partitionError(() => findFatPartition(head, imageBytes));
    expect(error.message).toContain("GPT");
    expect(error.message).toContain("no FAT");
  });

  test("a protective MBR without an EFI PART header is refused", () => {
    const head = gptHead([{ type: gptGuidBytes(BASIC_DATA), first: 2048, last: 4095 }], { signature: "NOT GPT!" });
    const error = partitionError(() => findFatPartition(head, imageBytes));
    expect(error.message).toContain("no GPT header");
  });

  test("a GPT FAT partition past the end of the image: an error about truncation", () => {
    const head = gptHead([{ type: gptGuidBytes(BASIC_DATA), first: 2048, last: 2048 + 16383 }]);
    const error = partitionError(() => findFatPartition(head, 4096 * SECTOR));
    expect(error.message).toContain("truncated");
  });

  test("a GPT header claiming entries of size 0 is refused promptly instead of looping over 2^32 entries", () => {
    // A corrupt header (the spec requires an entry size of 128 x 2^n) must not hang flash. Run in a child
    // process so that a hang fails this test instead of blocking the test runner.
    const head = gptHead([], { entrySize: 0, entryCount: 0xffffffff });
    const dir = tempDir("edgefed-gpt-");
    writeFileSync(join(dir, "head.bin"), head);
    const file = join(dir, "corrupt-gpt.ts");
    writeFileSync(
      file,
      `import { readFileSync } from "node:fs";
      import { findFatPartition } from ${JSON.stringify(join(import.meta.dir, "partition-table.ts"))};
      const head = new Uint8Array(readFileSync(${JSON.stringify(join(dir, "head.bin"))}));
      try { findFatPartition(head, ${imageBytes}); console.log("returned"); }
      catch (error) { console.log(error.name); }
      `,
    );
    const result = spawnSync(BUN, [file], { encoding: "utf8", timeout: 5_000, killSignal: "SIGKILL" });
    expect(result.signal).toBeNull(); // null: it finished, not killed at the 5 s timeout
    expect(result.stdout.trim()).toBe("PartitionError");
  }, 15_000);

  test("a GPT entry whose last LBA lies before its first is refused, not returned with a negative size", () => {
    const head = gptHead([{ type: gptGuidBytes(BASIC_DATA), first: 4096, last: 2047 }]);
    partitionError(() => findFatPartition(head, imageBytes));
  });
});

describe("findFatPartition with an image that is one FAT file system", () => {
  test("a FAT12 file system made by mkfs.fat: number 0, offset 0, the whole image", () => {
    const image = mkfsFat(1024);
    expect(findFatPartition(image.subarray(0, HEAD_SECTORS * SECTOR), image.length)).toEqual({ number: 0, offsetBytes: 0, sizeBytes: 1024 * 1024 });
  });

  test("a FAT32 file system made by mkfs.fat -F 32: number 0, offset 0", () => {
    const image = mkfsFat(40000, ["-F", "32"]);
    expect(findFatPartition(image.subarray(0, HEAD_SECTORS * SECTOR), image.length)).toEqual({ number: 0, offsetBytes: 0, sizeBytes: 40000 * 1024 });
  });
});

describe("findFatPartition with bytes that are neither", () => {
  test("pseudo-random bytes without the boot signature: a PartitionError", () => {
    for (const seed of [1, 2, 3, 42, 0xdeadbeef]) {
      const head = pseudoRandomBytes(HEAD_SECTORS * SECTOR, seed);
      head[510] = 0; // make sure: random bytes carry 0x55AA once in 65536
      const error = partitionError(() => findFatPartition(head, 64 * MIB));
      expect(error.message).toContain("neither a partition table nor a FAT file system");
    }
  });

  test("all zeros: a PartitionError", () => {
    partitionError(() => findFatPartition(new Uint8Array(HEAD_SECTORS * SECTOR), 64 * MIB));
  });

  test("fewer bytes than one sector: too small", () => {
    for (const length of [0, 1, 100, SECTOR - 1]) {
      const error = partitionError(() => findFatPartition(new Uint8Array(length), length));
      expect(error.message).toContain("too small");
    }
  });

  test("a protective MBR in a one-sector image (no room for the GPT header): a PartitionError", () => {
    const head = mbrHead([{ type: 0xee, start: 1, sectors: 100 }]).subarray(0, SECTOR);
    partitionError(() => findFatPartition(head, SECTOR));
  });
});

describe("isFatBootSector", () => {
  test("true for the boot sector mkfs.fat writes (FAT12 and FAT32)", () => {
    expect(isFatBootSector(mkfsFat(1024).subarray(0, SECTOR))).toBe(true);
    expect(isFatBootSector(mkfsFat(40000, ["-F", "32"]).subarray(0, SECTOR))).toBe(true);
  });

  test("true for a mkfs.fat boot sector inside a larger buffer at an odd offset", () => {
    const sector = mkfsFat(1024).subarray(0, SECTOR);
    const bigger = new Uint8Array(SECTOR + 3);
    bigger.set(sector, 3);
    expect(isFatBootSector(bigger.subarray(3))).toBe(true);
  });

  test("false for an MBR, even one whose partition is FAT", () => {
    expect(isFatBootSector(mbrHead([{ type: 0x0c, start: 8192, sectors: 1 << 20 }]))).toBe(false);
    expect(isFatBootSector(gptHead([{ type: gptGuidBytes(BASIC_DATA), first: 2048, last: 4095 }]))).toBe(false);
  });

  test("false once any part of the BIOS parameter block is wrong", () => {
    const good = mkfsFat(1024).subarray(0, SECTOR);
    const broken = (edit: (sector: Uint8Array) => void) => {
      const copy = good.slice();
      edit(copy);
      return isFatBootSector(copy);
    };
    expect(broken(() => {})).toBe(true);
    expect(broken((s) => (s[511] = 0))).toBe(false); // no 0x55AA signature
    expect(broken((s) => (s[0] = 0x00))).toBe(false); // no jump instruction
    expect(broken((s) => new DataView(s.buffer).setUint16(11, 513, true))).toBe(false); // bytes per sector
    expect(broken((s) => (s[13] = 3))).toBe(false); // sectors per cluster not a power of two
    expect(broken((s) => (s[13] = 0))).toBe(false);
    expect(broken((s) => s.set(new TextEncoder().encode("NTFS "), 54))).toBe(false); // no FAT type text
  });

  test("false for fewer than 512 bytes", () => {
    expect(isFatBootSector(mkfsFat(1024).subarray(0, SECTOR - 1))).toBe(false);
  });
});
