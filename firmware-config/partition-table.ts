// Finds the FAT boot partition inside a whole-disk image: reads the MBR (what
// Raspberry Pi OS images use) or a GPT, or accepts an image that is one FAT
// file system with no partition table. Pure: it only looks at the bytes
// handed to it.

export const SECTOR = 512;

export interface FatPartition {
  /** 1-based partition number, 0 for an image without a partition table. */
  number: number;
  offsetBytes: number;
  sizeBytes: number;
}

/** The image does not hold a FAT partition we can write into; the message says what it holds. */
export class PartitionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PartitionError";
  }
}

/** MBR partition types that hold FAT: FAT12, FAT16 (<32M, >32M, LBA), FAT32 (CHS, LBA). */
const MBR_FAT_TYPES = new Set([0x01, 0x04, 0x06, 0x0b, 0x0c, 0x0e]);
const MBR_GPT_PROTECTIVE = 0xee;
/** GPT type GUIDs (mixed-endian text form) that hold FAT: Microsoft basic data and the EFI system partition. */
const GPT_FAT_TYPES = new Set(["EBD0A0A2-B9E5-4433-87C0-68B6B72699C7", "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"]);

/** True when `sector` is a FAT boot sector (BIOS parameter block with a FAT file system type). */
export function isFatBootSector(sector: Uint8Array): boolean {
  if (sector.length < SECTOR || sector[510] !== 0x55 || sector[511] !== 0xaa) return false;
  const view = new DataView(sector.buffer, sector.byteOffset, SECTOR);
  const bytesPerSector = view.getUint16(11, true);
  const sectorsPerCluster = sector[13]!;
  const jumps = sector[0] === 0xeb || sector[0] === 0xe9;
  const text = (from: number) => String.fromCharCode(...sector.subarray(from, from + 5));
  const typed = text(54).startsWith("FAT") || text(82).startsWith("FAT");
  return jumps && typed && [512, 1024, 2048, 4096].includes(bytesPerSector) && sectorsPerCluster > 0 && (sectorsPerCluster & (sectorsPerCluster - 1)) === 0;
}

/** The size a FAT boot sector says its file system has (total sectors times sector size). */
export function fatFileSystemBytes(sector: Uint8Array): number {
  const view = new DataView(sector.buffer, sector.byteOffset, SECTOR);
  const sectors = view.getUint16(19, true) || view.getUint32(32, true);
  return sectors * view.getUint16(11, true);
}

function guid(bytes: Uint8Array): string {
  const hex = (from: number, to: number, reverse: boolean) => {
    const part = Array.from(bytes.subarray(from, to), (b) => b.toString(16).padStart(2, "0"));
    return (reverse ? part.reverse() : part).join("");
  };
  return [hex(0, 4, true), hex(4, 6, true), hex(6, 8, true), hex(8, 10, false), hex(10, 16, false)].join("-").toUpperCase();
}

/**
 * The first FAT partition of the image whose first sectors are `head` (the
 * MBR, and for GPT the header and entry array: read at least 34 sectors).
 * `imageBytes` bounds the partitions found. Throws PartitionError otherwise.
 */
export function findFatPartition(head: Uint8Array, imageBytes: number): FatPartition {
  if (head.length < SECTOR) throw new PartitionError(`the image is ${imageBytes} bytes, too small to hold a partition table`);
  if (isFatBootSector(head)) return { number: 0, offsetBytes: 0, sizeBytes: imageBytes };
  if (head[510] !== 0x55 || head[511] !== 0xaa) throw new PartitionError("the image has neither a partition table nor a FAT file system at its start");
  const view = new DataView(head.buffer, head.byteOffset, head.length);
  const entries = [0, 1, 2, 3].map((i) => {
    const at = 446 + 16 * i;
    return { number: i + 1, type: head[at + 4]!, start: view.getUint32(at + 8, true), sectors: view.getUint32(at + 12, true) };
  });
  if (entries.some((e) => e.type === MBR_GPT_PROTECTIVE)) return findGptFat(head, view, imageBytes);
  const used = entries.filter((e) => e.type !== 0);
  const fat = used.find((e) => MBR_FAT_TYPES.has(e.type));
  if (!fat) {
    const types = used.map((e) => `${e.number}: type 0x${e.type.toString(16).padStart(2, "0")}`).join(", ");
    throw new PartitionError(`no FAT partition in the image's partition table (${types || "it is empty"}); a Raspberry Pi boot partition is FAT32 (type 0x0c)`);
  }
  return within({ number: fat.number, offsetBytes: fat.start * SECTOR, sizeBytes: fat.sectors * SECTOR }, imageBytes);
}

function findGptFat(head: Uint8Array, view: DataView, imageBytes: number): FatPartition {
  const header = SECTOR;
  if (head.length < 2 * SECTOR || String.fromCharCode(...head.subarray(header, header + 8)) !== "EFI PART") {
    throw new PartitionError("the image has a protective MBR but no GPT header");
  }
  const entriesAt = Number(view.getBigUint64(header + 72, true)) * SECTOR;
  const count = view.getUint32(header + 80, true);
  const size = view.getUint32(header + 84, true);
  // The UEFI spec: entries are 128 * 2^n bytes. Anything else is a corrupt header, not a loop bound.
  if (size < 128 || (size & (size - 1)) !== 0) throw new PartitionError(`the image's GPT header gives a partition entry size of ${size} bytes, not 128 * 2^n: a corrupt header?`);
  for (let i = 0; i < count && entriesAt + (i + 1) * size <= head.length; i++) {
    const at = entriesAt + i * size;
    if (!GPT_FAT_TYPES.has(guid(head.subarray(at, at + 16)))) continue;
    const first = Number(view.getBigUint64(at + 32, true));
    const last = Number(view.getBigUint64(at + 40, true));
    if (last < first) throw new PartitionError(`GPT partition ${i + 1} ends (LBA ${last}) before it starts (LBA ${first}): a corrupt partition table?`);
    return within({ number: i + 1, offsetBytes: first * SECTOR, sizeBytes: (last - first + 1) * SECTOR }, imageBytes);
  }
  throw new PartitionError("no FAT (basic data or EFI system) partition in the image's GPT");
}

function within(partition: FatPartition, imageBytes: number): FatPartition {
  if (partition.sizeBytes === 0 || partition.offsetBytes + partition.sizeBytes > imageBytes) {
    throw new PartitionError(`partition ${partition.number} runs past the end of the image (${imageBytes} bytes): a truncated image?`);
  }
  return partition;
}
