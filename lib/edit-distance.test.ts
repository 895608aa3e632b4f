import { describe, expect, test } from "bun:test";
import { closest, editDistance } from "./edit-distance.ts";

describe("editDistance", () => {
  test.each([
    ["", "", 0],
    ["abc", "", 3],
    ["", "abc", 3],
    ["FEES_BPS", "FEES_BPS", 0],
    ["FEES_BPS", "FEE_BPS", 1], // deletion
    ["FEE_BPS", "FEES_BPS", 1], // insertion
    ["FEES_BPS", "FEES_BPX", 1], // substitution
    ["MIN_NOTIONAL_UDS", "MIN_NOTIONAL_USD", 1], // adjacent transposition
    ["ab", "ba", 1],
    ["kitten", "sitting", 3],
    ["ca", "abc", 3], // restricted: no edits inside a transposed pair
    ["abc", "xyz", 3],
  ])("editDistance(%p, %p) = %p", (a, b, d) => {
    expect(editDistance(a, b)).toBe(d);
    expect(editDistance(b, a)).toBe(d);
  });
});

describe("closest", () => {
  const flags = ["http-port", "http-host", "data-dir"];
  test("the nearest candidate within the limit", () => {
    expect(closest("http-prot", flags, 2)).toBe("http-port");
    expect(closest("data-dri", flags, 2)).toBe("data-dir");
  });
  test("none when every candidate is further than the limit", () => {
    expect(closest("verbose", flags, 2)).toBeNull();
    expect(closest("x", [], 3)).toBeNull();
  });
});
