// The embedded broker (aedes) that lets one command run the whole hub. It
// authenticates every client and authorises every publish and subscribe
// itself, with the same rules a Mosquitto gets through dynamic security, and
// also refuses a node's retain flag where the protocol does not retain (a
// retained heartbeat), which Mosquitto's roles cannot express.
import { Aedes, type Client } from "aedes";
import { createServer, type AddressInfo, type Server, type Socket } from "node:net";
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from "node:tls";
import { ROOT } from "../../protocol/topics.ts";
import { hashSecret, randomSecret, secretMatches } from "../identity/secrets.ts";
import { nodeMayPublish, nodeMaySubscribe } from "./acl.ts";
import { guardPacketSize } from "./packet-size-guard.ts";
import type { PublishBudget } from "./publish-budget.ts";
import { clearingDroppedForwardsExactly } from "./dropped-forward.ts";
import { memoryPersistenceWithRetainedIndex } from "./retained-by-topic.ts";
import { HUB_CLIENT_PREFIX, type BrokerAccess, type NodeGrant } from "./broker-access.ts";

/** The hub's own MQTT identity on the embedded broker; node ids never start with "$". */
export const HUB_USERNAME = "$edgefed-hub";
/**
 * An operator watching the fleet's topics (mosquitto_sub) logs in as this
 * user with the watch token as password. It may subscribe under the
 * protocol root, at QoS 0 only and with a clean session (a session kept
 * for a watcher gone away would queue the fleet's traffic in the hub's
 * memory without end), and publish nothing. Its client id must start with
 * WATCHER_CLIENT_PREFIX, which no node id can (the hub's prefix is
 * reserved), so a watcher can never take over a node's session.
 */
export const WATCHER_USERNAME = "$edgefed-watch";
export const WATCHER_CLIENT_PREFIX = `${HUB_CLIENT_PREFIX}-watch-`;
/** Packets larger than this close the client (as Mosquitto's max_packet_size); the hub drops payloads over 64 KiB itself. */
const MAX_BROKER_PACKET_BYTES = 256 * 1024;

export interface EmbeddedBroker {
  /** The URL the hub connects to: the MQTTS listener's when TLS is on. */
  url: string;
  /** That listener's port. */
  port: number;
  /** The plaintext listener's port; null when there is none (TLS on, plaintext not allowed). */
  plaintextPort: number | null;
  /** Serves a new certificate and key to new connections; sessions already open keep theirs (SIGHUP reload). */
  setTlsCertificate(certificate: BrokerCertificate): void;
  access: BrokerAccess;
  /** Credentials for the hub's own client, valid for this broker's lifetime. */
  hubCredentials: { username: string; password: string };
  connectedClients(): number;
  close(): Promise<void>;
}

/**
 * aedes acknowledges a QoS 1 publish before it forwards it to anyone, and
 * this broker lives in the hub's process: a kill -9 loses what it had
 * acknowledged to a node but the hub had not committed. So for the topics
 * `covers` names, a node's QoS 1 publish is handed to the hub right in the
 * authorisation step, which aedes lets finish before its PUBACK; the PUBACK
 * waits for `ingest`'s commit, and the hub's own session is not sent the
 * message again. If `ingest` fails, aedes closes the node's connection and
 * the node sends the message again.
 */
export interface IngestBeforeAck {
  covers(topic: string): boolean;
  ingest(topic: string, payload: Buffer): Promise<void> | undefined;
}

/** The server certificate (PEM, with its chain) and key the MQTTS listener presents. */
export interface BrokerCertificate {
  cert: string;
  key: string;
}

type Identity = { role: "hub" } | { role: "watcher" } | { role: "node"; nodeId: string };
const identities = new WeakMap<Client, Identity>();

function authError(message: string): Error & { returnCode: number } {
  return Object.assign(new Error(message), { returnCode: 4 }); // 4: bad user name or password
}

export async function startEmbeddedBroker(options: {
  host: string;
  /** The plaintext listener's port (0: any free one). */
  port: number;
  /** False: no plaintext listener (needs `tls`). Default true. */
  plaintext?: boolean;
  /**
   * An MQTTS listener on `tls.port` (0: any free one) with this certificate.
   * With `clientCa` (mutual TLS required) the handshake refuses a client
   * without a certificate from that CA, and a client whose certificate's CN
   * is not the user it logs in as is refused at CONNECT.
   */
  tls?: BrokerCertificate & { port: number; clientCa?: string };
  /** Node password hashes known at start (from the registry). */
  nodes: Iterable<{ nodeId: string; passwordHash: string }>;
  /** Hash of the watch token, the watcher's password. */
  watcherPasswordHash: string;
  /** Node publishes the hub commits before the broker acknowledges them. */
  ingestBeforeAck?: IngestBeforeAck;
  /** Each node's publish budget: a node over it is disconnected (aedes closes a client whose publish is refused). */
  publishBudget?: PublishBudget;
}): Promise<EmbeddedBroker> {
  const passwordHashes = new Map<string, string>();
  for (const node of options.nodes) passwordHashes.set(node.nodeId, node.passwordHash);
  const hubPassword = randomSecret(32);
  const hubPasswordHash = hashSecret(hubPassword);

  const clientCa = options.tls?.clientCa;
  const broker = await Aedes.createBroker({
    // Retained messages found by topic: a node's SUBSCRIBE no longer scans every node's (retained-by-topic.ts);
    // a forward dropped for the hub's session removes that message only (dropped-forward.ts).
    persistence: clearingDroppedForwardsExactly(memoryPersistenceWithRetainedIndex()),
    authenticate(client, username, password, done) {
      if (clientCa !== undefined && (username === undefined || certificateName(client) !== username)) {
        return done(authError("the client certificate's CN is not the user name"), false);
      }
      if (username === HUB_USERNAME && secretMatches(password, hubPasswordHash) && client.id.startsWith(HUB_CLIENT_PREFIX)) {
        identities.set(client, { role: "hub" });
        return done(null, true);
      }
      if (username === WATCHER_USERNAME && secretMatches(password, options.watcherPasswordHash) && client.id.startsWith(WATCHER_CLIENT_PREFIX) && client.clean) {
        identities.set(client, { role: "watcher" });
        return done(null, true);
      }
      // A node logs in as its node id and must use it as client id, so no
      // client can take over (and keep kicking) another node's session.
      if (username !== undefined && client.id === username && !client.id.startsWith(HUB_CLIENT_PREFIX) && secretMatches(password, passwordHashes.get(username))) {
        identities.set(client, { role: "node", nodeId: username });
        return done(null, true);
      }
      done(authError("bad credentials"), false);
    },
    authorizePublish(client, packet, callback) {
      const identity = client && identities.get(client);
      const allowed =
        identity !== undefined &&
        identity !== null &&
        identity.role !== "watcher" &&
        (identity.role === "hub" ? packet.topic.startsWith(`${ROOT}/`) : nodeMayPublish(identity.nodeId, packet.topic, packet.retain));
      if (!allowed) return callback(new Error(`publish to ${packet.topic} not allowed`));
      if (identity.role === "node" && options.publishBudget && !options.publishBudget.allows(identity.nodeId, Date.now())) {
        return callback(new Error(`node ${identity.nodeId} is over its publish budget`));
      }
      const { ingestBeforeAck } = options;
      if (identity.role !== "node" || packet.qos !== 1 || !ingestBeforeAck?.covers(packet.topic)) return callback(null);
      const payload = typeof packet.payload === "string" ? Buffer.from(packet.payload) : packet.payload;
      Promise.resolve(ingestBeforeAck.ingest(packet.topic, payload)).then(() => callback(null), callback);
    },
    authorizeForward(client, packet) {
      // The hub took these in the authorisation step above.
      const ingested = packet.qos === 1 && identities.get(client)?.role === "hub" && options.ingestBeforeAck?.covers(packet.topic);
      return ingested ? null : packet;
    },
    authorizeSubscribe(client, subscription, callback) {
      const identity = identities.get(client);
      const allowed =
        identity !== undefined &&
        (identity.role === "node" ? nodeMaySubscribe(identity.nodeId, subscription.topic) : subscription.topic.startsWith(`${ROOT}/`));
      if (!allowed) return callback(null, null); // null: SUBACK failure (128), connection stays
      callback(null, identity.role === "watcher" ? { ...subscription, qos: 0 } : subscription);
    },
  });

  const handle = (socket: Socket) => {
    guardPacketSize(socket, MAX_BROKER_PACKET_BYTES);
    broker.handle(socket);
  };
  const plaintext = options.plaintext ?? true;
  if (!plaintext && !options.tls) throw new Error("the embedded broker needs a plaintext or a TLS listener");
  const plainServer: Server | null = plaintext ? createServer(handle) : null;
  // aedes handles a TLS socket like a plain one: the handshake is done before "secureConnection".
  const mutualTls = clientCa !== undefined ? { ca: clientCa, requestCert: true, rejectUnauthorized: true } : {};
  const tlsServer: TlsServer | null = options.tls ? createTlsServer({ cert: options.tls.cert, key: options.tls.key, minVersion: "TLSv1.2", ...mutualTls }) : null;
  tlsServer?.on("secureConnection", handle);
  const servers = [plainServer, tlsServer].filter((server): server is Server => server !== null);
  const plaintextPort = plainServer ? await listen(plainServer, options.port, options.host) : null;
  const tlsPort = tlsServer ? await listen(tlsServer, options.tls!.port, options.host) : null;

  function disconnect(nodeId: string): void {
    const clients = (broker as unknown as { clients: Record<string, Client> }).clients;
    clients[nodeId]?.close();
  }

  const access: BrokerAccess = {
    healthy: true,
    async grant(grant: NodeGrant) {
      const previous = passwordHashes.get(grant.nodeId);
      passwordHashes.set(grant.nodeId, hashSecret(grant.password));
      if (previous !== undefined) disconnect(grant.nodeId); // its session was opened with the old password
    },
    async revoke(nodeId: string) {
      passwordHashes.delete(nodeId);
      disconnect(nodeId);
    },
    async close() {},
  };

  const reachableHost = options.host === "0.0.0.0" ? "127.0.0.1" : options.host;
  return {
    url: tlsPort !== null ? `mqtts://${reachableHost}:${tlsPort}` : `mqtt://${reachableHost}:${plaintextPort}`,
    port: (tlsPort ?? plaintextPort)!,
    plaintextPort,
    setTlsCertificate(certificate) {
      if (!tlsServer) throw new Error("the embedded broker has no TLS listener");
      tlsServer.setSecureContext({ cert: certificate.cert, key: certificate.key, ...(clientCa !== undefined ? { ca: clientCa } : {}) });
    },
    access,
    hubCredentials: { username: HUB_USERNAME, password: hubPassword },
    connectedClients: () => broker.connectedClients,
    async close() {
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
    },
  };
}

/** The CN of the certificate a client presented (undefined on plaintext or without one). */
function certificateName(client: Client): string | undefined {
  const socket = (client as unknown as { conn?: Partial<TLSSocket> }).conn;
  const subject = socket?.getPeerCertificate?.()?.subject as { CN?: string | string[] } | undefined;
  return typeof subject?.CN === "string" ? subject.CN : undefined;
}

/** Listens on `port` (0: any free one) and returns the port listened on. */
function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
  });
}
