// A broker URL as MQTT.js connection options. Handing MQTT.js the URL string
// makes it call Node's legacy url.parse(), which prints a DEP0169 deprecation
// warning (at every start of the compiled agent); MQTT.js PR #1927 to change
// that is still open. So the URL is parsed here with the WHATWG URL API and
// mqtt.connect() gets options only. Credentials go in the options, never in
// the URL (they would end up in logs).
import type { IClientOptions } from "mqtt";

export function brokerAddress(url: string): IClientOptions {
  const parsed = new URL(url);
  const protocol = parsed.protocol.replace(/:$/, "") as NonNullable<IClientOptions["protocol"]>;
  // Like url.parse(): an IPv6 address without its brackets.
  const hostname = parsed.hostname.replace(/^\[(.*)\]$/, "$1");
  const address: IClientOptions = { protocol, hostname, host: hostname };
  if (parsed.port !== "") address.port = Number(parsed.port);
  // Only WebSocket brokers have a path: for TCP, MQTT.js would take one as a Unix socket.
  if (protocol === "ws" || protocol === "wss") address.path = `${parsed.pathname}${parsed.search}`;
  return address;
}

/** Whether the URL's broker speaks TLS (mqtts://, wss://). */
export function isTlsBrokerUrl(url: string): boolean {
  return ["mqtts:", "wss:"].includes(new URL(url).protocol);
}

/** A client certificate (PEM) and its key, for a broker that asks for one (mutual TLS). */
export interface ClientCertificate {
  cert: string;
  key: string;
}

/**
 * MQTT.js options that trust only `ca` (PEM) for a TLS broker, not the
 * system's store: a server whose certificate does not chain to it is refused.
 * Nothing for a plaintext URL or without a CA (MQTT.js then uses the system store).
 * With `client`, that certificate is presented when the broker asks for one.
 */
export function brokerTrust(url: string, ca: string | undefined, client?: ClientCertificate | null): IClientOptions {
  if (!isTlsBrokerUrl(url)) return {};
  return { ...(ca ? { ca, rejectUnauthorized: true } : {}), ...(client ? { cert: client.cert, key: client.key } : {}) };
}
