// Where an HTTP request comes from, for the per-address rate limits: the
// socket's remote address (Bun: server.requestIP, Node: the socket), never a
// header a client can write. Only behind a reverse proxy the operator names
// (EDGEFED_TRUSTED_PROXIES) is X-Forwarded-For read, and then only as far as
// the proxies named: the client is the rightmost address no trusted proxy
// owns, so a client cannot choose its own key by sending the header itself.
import type { Context } from "hono";
import { getConnInfo as nodeConnInfo } from "@hono/node-server/conninfo";
import { isIP } from "node:net";
import { plainAddress, type TrustedProxies } from "./trusted-proxies.ts";

const RUNS_ON_BUN = typeof globalThis.Bun !== "undefined";

/**
 * Under Bun, Bun.serve hands the server to the fetch handler, which Hono keeps
 * as c.env: its requestIP is what hono/bun's getConnInfo reads. Not imported
 * from hono/bun: that module touches the Bun global as it loads, and the hub
 * also runs as a Node bundle.
 */
function bunConnInfo(c: Context): { remote: { address?: string } } {
  const server = c.env as { requestIP?: (request: Request) => { address: string } | null } | undefined;
  if (typeof server?.requestIP !== "function") throw new TypeError("no Bun server behind this request");
  return { remote: { address: server.requestIP(c.req.raw)?.address } };
}
/** The key of a request whose address the server cannot tell (a Unix socket, a test's app.request()). */
export const UNKNOWN_SOURCE = "unknown";

function socketAddress(c: Context): string | undefined {
  try {
    return (RUNS_ON_BUN ? bunConnInfo(c) : nodeConnInfo(c)).remote.address;
  } catch {
    return undefined; // no server behind the request (app.request() in a test)
  }
}

/** The request's source address: the socket's, or behind a trusted proxy the client it forwarded for. */
export function sourceAddress(c: Context, proxies: TrustedProxies): string {
  const peer = socketAddress(c);
  if (peer === undefined) return UNKNOWN_SOURCE;
  if (proxies.none || !proxies.has(peer)) return plainAddress(peer);
  const forwarded = (c.req.header("x-forwarded-for") ?? "").split(",").map((part) => part.trim()).filter(Boolean);
  // From the right: each trusted proxy appended the address it got the request from.
  for (let i = forwarded.length - 1; i >= 0; i--) {
    const hop = forwarded[i]!;
    if (!isIP(plainAddress(hop))) return plainAddress(peer); // garbage a client wrote: the proxy is all we know
    if (!proxies.has(hop)) return plainAddress(hop);
  }
  return plainAddress(forwarded[0] ?? peer);
}

/**
 * Whose bucket an address spends from: an IPv4 address its own, an IPv6
 * address its /64. A single IPv6 host usually holds a whole /64 and can send
 * from any address in it: keyed per address, it would get a fresh burst per
 * address.
 */
export function addressKey(address: string): string {
  const plain = address.split("%")[0]!; // an IPv6 zone (fe80::1%eth0) names an interface, not a host
  if (isIP(plain) !== 6) return address;
  const [head = "", tail] = plain.split("::");
  const headGroups = head === "" ? [] : head.split(":");
  if (tail === undefined) return prefix64(headGroups);
  const tailGroups = tail === "" ? [] : tail.split(":");
  const tailLength = tailGroups.reduce((groups, group) => groups + (group.includes(".") ? 2 : 1), 0); // a dotted IPv4 tail is two groups
  return prefix64([...headGroups, ...Array<string>(8 - headGroups.length - tailLength).fill("0"), ...tailGroups]);
}

function prefix64(groups: string[]): string {
  return `${groups.slice(0, 4).map((group) => parseInt(group, 16).toString(16)).join(":")}::/64`;
}
