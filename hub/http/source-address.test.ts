import { describe, expect, test } from "bun:test";
import { addressKey } from "./source-address.ts";

describe("addressKey", () => {
  test("an IPv4 address is its own key", () => {
    expect(addressKey("203.0.113.5")).toBe("203.0.113.5");
    expect(addressKey("unknown")).toBe("unknown");
  });

  test("an IPv6 address is keyed by its /64, however it is written", () => {
    const key = "2001:db8:1:2::/64";
    for (const address of ["2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:0db8:0001:0002:0:0:0:9", "2001:DB8:1:2:a::b", "2001:db8:1:2::1%eth0"]) {
      expect(addressKey(address)).toBe(key);
    }
    expect(addressKey("2001:db8:1:3::1")).not.toBe(key);
  });

  test("compressed prefixes and dotted IPv4 tails expand to the right groups", () => {
    expect(addressKey("::1")).toBe("0:0:0:0::/64");
    expect(addressKey("2001:db8::1")).toBe("2001:db8:0:0::/64");
    expect(addressKey("64:ff9b::192.0.2.33")).toBe("64:ff9b:0:0::/64");
    expect(addressKey("fe80::")).toBe("fe80:0:0:0::/64");
  });
});
