// The one nesting limit for every JSON the hub and the agent accept (HTTP
// bodies, MQTT payloads, gate CLI lines). JSON.parse copes with 10,000 levels,
// but what walks the parsed value afterwards (canonicalJson when signing, zod,
// JSON.stringify) recurses and overflows the stack: a 20 KB body would crash
// the request with a 500. So the raw text is scanned first, without recursion.
// The deepest legitimate message is 4 levels (a desired policy's mode window:
// message > policy > windows > window); 32 leaves room for free-form payloads.
export const MAX_JSON_DEPTH = 32;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

/**
 * Why `raw` JSON nests too deep, or null when it does not. Brackets inside
 * strings do not count. Bytes work as well as text: UTF-8 never puts an ASCII
 * byte inside a multi-byte character. Invalid JSON is not judged here, only
 * its depth; JSON.parse says what else is wrong.
 */
export function jsonDepthProblem(raw: string | Uint8Array, max = MAX_JSON_DEPTH): string | null {
  const length = raw.length;
  const at = typeof raw === "string" ? (i: number) => raw.charCodeAt(i) : (i: number) => raw[i]!;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < length; i++) {
    const c = at(i);
    if (inString) {
      if (c === BACKSLASH) i++; // the escaped character cannot end the string
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) inString = true;
    else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > max) return `JSON nested deeper than the limit of ${max} levels`;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) depth--;
  }
  return null;
}
