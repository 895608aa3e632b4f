import { describe, expect, test } from "bun:test";
import { plainAddress, TrustedProxies, trustedProxyList } from "./trusted-proxies.ts";

describe("TrustedProxies", () => {
  test("addresses and CIDR ranges, IPv4 and IPv6; an IPv4 address as an IPv6 socket shows it is that address", () => {
    const proxies = new TrustedProxies(["10.0.0.2", "192.168.1.0/24", "fd00::/8"]);
    for (const address of ["10.0.0.2", "::ffff:10.0.0.2", "192.168.1.77", "fd12::1"]) expect(proxies.has(address)).toBe(true);
    for (const address of ["10.0.0.3", "192.168.2.1", "fe80::1", "not-an-address", ""]) expect(proxies.has(address)).toBe(false);
    expect(proxies.none).toBe(false);
    expect(new TrustedProxies([]).none).toBe(true);
  });

  test("the setting: a comma-separated list, empty for none, a bad entry named", () => {
    expect(trustedProxyList("")).toEqual({ value: [] });
    expect(trustedProxyList(" 10.0.0.1 , ::1,")).toEqual({ value: ["10.0.0.1", "::1"] });
    expect(trustedProxyList("10.0.0.1/8/2")).toEqual({ problem: '"10.0.0.1/8/2" is not an IP address or CIDR range' });
    expect(trustedProxyList("::1/129")).toEqual({ problem: '"::1/129": bad prefix length' });
  });

  test("plainAddress unwraps only an IPv4-mapped IPv6 address", () => {
    expect(plainAddress("::ffff:127.0.0.1")).toBe("127.0.0.1");
    expect(plainAddress("::1")).toBe("::1");
    expect(plainAddress("203.0.113.5")).toBe("203.0.113.5");
  });
});
