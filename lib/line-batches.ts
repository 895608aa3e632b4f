// The lines of a text stream (JSONL on stdin), split exactly as
// node:readline splits them with crlfDelay: Infinity: "\n", "\r\n" or a
// lone "\r" ends a line, a last line without an end counts, nothing is
// trimmed (a byte-order mark stays, bad bytes decode the same). Handed over
// in batches, one per chunk read: readline hands over one line at a time
// through events and promises, which costs about as much as replaying the
// line (a day of a fleet is two million lines). line-batches.test.ts holds
// it equal to readline.
import { StringDecoder } from "node:string_decoder";

const LINE_BREAK = /\r\n|\r|\n/;

export async function* lineBatches(input: AsyncIterable<Uint8Array | string>): AsyncGenerator<string[]> {
  // readline's decoder: it keeps a byte-order mark and treats bad bytes its own way (not quite TextDecoder's).
  const decoder = new StringDecoder("utf8");
  let carry = "";
  for await (const chunk of input) {
    const text = carry + (typeof chunk === "string" ? chunk : decoder.write(chunk));
    // A "\r" at the end may be the first half of a "\r\n" that the next chunk ends: it waits.
    const held = text.endsWith("\r") ? 1 : 0;
    const lines = text.slice(0, text.length - held).split(LINE_BREAK);
    carry = lines.pop()! + (held ? "\r" : "");
    if (lines.length) yield lines;
  }
  // Bytes of a character the stream ended in the middle of are dropped, as readline drops them.
  if (carry === "") return;
  const lines = carry.split(LINE_BREAK);
  if (lines.at(-1) === "") lines.pop(); // it ended with a line break: no empty line after it
  yield lines;
}
