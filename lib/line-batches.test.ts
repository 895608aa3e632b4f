// lineBatches must give the lines node:readline gives (crlfDelay: Infinity),
// whatever the line ends and however the bytes are cut into chunks.
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { createInterface } from "node:readline";
import { Readable } from "node:stream";
import { lineBatches } from "./line-batches.ts";

async function viaReadline(chunks: Uint8Array[]): Promise<string[]> {
  const lines: string[] = [];
  for await (const line of createInterface({ input: Readable.from(chunks.map((c) => Buffer.from(c))), crlfDelay: Infinity })) lines.push(line);
  return lines;
}

async function viaBatches(chunks: Uint8Array[]): Promise<string[]> {
  const lines: string[] = [];
  for await (const batch of lineBatches(Readable.from(chunks.map((c) => Buffer.from(c))))) lines.push(...batch);
  return lines;
}

/** The bytes cut at the given places (sorted, within the length). */
function cut(bytes: Uint8Array, at: number[]): Uint8Array[] {
  const points = [...new Set(at.map((p) => p % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let start = 0;
  for (const point of [...points, bytes.length]) {
    if (point > start) chunks.push(bytes.slice(start, point));
    start = Math.max(start, point);
  }
  return chunks;
}

// Text made of line ends of every kind, multi-byte characters (cut in the middle by some chunkings), a BOM and JSON.
const piece = fc.constantFrom("\n", "\r", "\r\n", "\n\r", "a", "{\"at\":1}", "é", "€", "😀", "\uFEFF", " ", "");
const text = fc.array(piece, { maxLength: 40 }).map((pieces) => pieces.join(""));

describe("lineBatches splits as node:readline does", () => {
  test("on text with every kind of line end, cut into chunks anywhere", async () => {
    await fc.assert(
      fc.asyncProperty(text, fc.array(fc.nat(), { maxLength: 8 }), async (value, at) => {
        const chunks = cut(new TextEncoder().encode(value), at);
        expect(await viaBatches(chunks)).toEqual(await viaReadline(chunks));
      }),
      { numRuns: 1000 },
    );
  });

  test("on arbitrary bytes (invalid UTF-8 included)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 64 }), fc.array(fc.nat(), { maxLength: 6 }), async (bytes, at) => {
        const chunks = cut(bytes, at);
        expect(await viaBatches(chunks)).toEqual(await viaReadline(chunks));
      }),
      { numRuns: 1000 },
    );
  });

  test("examples", async () => {
    const lines = (value: string) => viaBatches([new TextEncoder().encode(value)]);
    expect(await lines("")).toEqual([]);
    expect(await lines("\n")).toEqual([""]);
    expect(await lines("a\r\nb\rc\n\nd")).toEqual(["a", "b", "c", "", "d"]);
    expect(await viaBatches([new TextEncoder().encode("a\r"), new TextEncoder().encode("\nb")])).toEqual(["a", "b"]);
  });
});
