// The nesting scan: the limit holds exactly, brackets in strings do not count,
// bytes and text agree, and on any JSON the scan agrees with a plain
// recursive count of the parsed value.
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { jsonDepthProblem, MAX_JSON_DEPTH } from "./json-depth.ts";

const nestedArrays = (levels: number) => "[".repeat(levels) + "]".repeat(levels);

/** Depth of a parsed value, the obvious recursive way (fine for the small values generated here). */
function depthOf(value: unknown): number {
  if (value === null || typeof value !== "object") return 0;
  const children = Array.isArray(value) ? value : Object.values(value);
  return 1 + Math.max(0, ...children.map(depthOf));
}

describe("jsonDepthProblem", () => {
  test("accepts exactly the limit and refuses one level more, naming the limit", () => {
    expect(jsonDepthProblem(nestedArrays(MAX_JSON_DEPTH))).toBeNull();
    expect(jsonDepthProblem(nestedArrays(MAX_JSON_DEPTH + 1))).toBe(`JSON nested deeper than the limit of ${MAX_JSON_DEPTH} levels`);
    expect(jsonDepthProblem(`{"a":`.repeat(MAX_JSON_DEPTH + 1) + "1" + "}".repeat(MAX_JSON_DEPTH + 1))).toContain(String(MAX_JSON_DEPTH));
  });

  test("10,000 levels (20 KB) are refused without recursion", () => {
    expect(jsonDepthProblem(nestedArrays(10_000))).toContain(`limit of ${MAX_JSON_DEPTH}`);
    expect(jsonDepthProblem(Buffer.from(nestedArrays(10_000)))).toContain(`limit of ${MAX_JSON_DEPTH}`);
  });

  test("brackets inside strings, escaped quotes included, do not count", () => {
    const text = JSON.stringify({ s: "[".repeat(100), t: 'a \\" {{{{ "', u: "\\" + "{".repeat(100) });
    expect(jsonDepthProblem(text, 1)).toBeNull();
    expect(jsonDepthProblem(Buffer.from(JSON.stringify({ s: "é ü [[[[[[ ✓" })), 1)).toBeNull();
  });

  test("on any JSON the scan agrees with the depth of the parsed value, for text and for bytes", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 8 }), fc.integer({ min: 0, max: 8 }), (value, limit) => {
        const text = JSON.stringify(value);
        const expected = depthOf(value) > limit;
        expect(jsonDepthProblem(text, limit) !== null).toBe(expected);
        expect(jsonDepthProblem(Buffer.from(text), limit) !== null).toBe(expected);
      }),
      { numRuns: 500 },
    );
  });
});
