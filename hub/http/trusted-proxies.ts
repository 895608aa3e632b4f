// The reverse proxies the operator trusts to say, in X-Forwarded-For, whom
// they forward for (EDGEFED_TRUSTED_PROXIES): addresses and CIDR ranges,
// checked with node:net's BlockList.
import { BlockList, isIP } from "node:net";
import type { Checked } from "../../lib/settings.ts";

/** An IPv4 address as an IPv6 socket reports it (::ffff:10.0.0.1) is that IPv4 address. */
export function plainAddress(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped ? mapped[1]! : address;
}

function familyOf(address: string): "ipv4" | "ipv6" | null {
  const version = isIP(address);
  return version === 4 ? "ipv4" : version === 6 ? "ipv6" : null;
}

/** The proxies whose X-Forwarded-For is believed: addresses and CIDR ranges. */
export class TrustedProxies {
  private readonly list = new BlockList();
  readonly none: boolean;

  /** Throws naming the first entry that is not an address or range. */
  constructor(entries: readonly string[]) {
    for (const entry of entries) this.add(entry);
    this.none = entries.length === 0;
  }

  has(address: string): boolean {
    const plain = plainAddress(address);
    const family = familyOf(plain);
    return family !== null && this.list.check(plain, family);
  }

  private add(entry: string): void {
    const [address = "", prefix, ...rest] = entry.split("/");
    const family = familyOf(plainAddress(address));
    if (!family || rest.length > 0) throw new Error(`${JSON.stringify(entry)} is not an IP address or CIDR range`);
    if (prefix === undefined) return this.list.addAddress(plainAddress(address), family);
    const bits = Number(prefix);
    if (!/^\d+$/.test(prefix) || bits > (family === "ipv4" ? 32 : 128)) throw new Error(`${JSON.stringify(entry)}: bad prefix length`);
    this.list.addSubnet(plainAddress(address), bits, family);
  }
}

/** The setting's parser: a comma-separated list of addresses and CIDR ranges; empty trusts no proxy. */
export function trustedProxyList(raw: string): Checked<string[]> {
  const entries = raw.split(",").map((part) => part.trim()).filter(Boolean);
  try {
    new TrustedProxies(entries);
  } catch (error) {
    return { problem: (error as Error).message };
  }
  return { value: entries };
}
