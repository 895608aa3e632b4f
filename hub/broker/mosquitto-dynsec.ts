// BrokerAccess for an external Mosquitto (2.0+) through its dynamic-security
// plugin: the hub sends JSON commands to $CONTROL/dynamic-security/v1 over its
// own MQTT connection, as the plugin's admin client, and reads the answers on
// .../response. Each node gets a client (username = client id = node id)
// holding two roles: `edgefed-node`, shared by every node (the fleet topics),
// and `edgefed-node-<id>`, its own topics, exactly as acl.ts lists them.
//
// Why a role per node at all: Mosquitto 2.0.x takes `%c`/`%u` in ACL topics
// literally (mosquitto-dynsec-patterns.test.ts), so a node's own topics must
// be spelt out per node. And why as little as possible in it: the plugin
// rewrites its whole JSON file on every modifying command (each command, even
// several in one control message), so a command costs time in proportion to
// the fleet, with the broker serving nobody meanwhile. A new node costs two
// rewrites (its role, its client), a new password one, a revoke two.
//
// Mosquitto 2.0.11 behaviour this relies on (checked against the real broker,
// see mosquitto-dynsec.test.ts):
// - setClientPassword and deleteClient disconnect the client's live sessions,
//   so a new password or a revoke takes effect at once;
// - addClientRole disconnects the client it changes, which can be this very
//   connection when the hub user is the admin; the setup then runs again on
//   the automatic reconnect and finds the role in place;
// - modifyRole replaces a role's ACLs without disconnecting anyone;
// - deleteRole of a role a client still holds leaves that client pointing at
//   freed memory, so a role is only ever deleted after its client;
// - duplicate addClientRole answers "Internal error", so the hub's role is
//   checked with getClient first rather than added blindly;
// - listRoles with verbose answers every role with its ACLs, in pages.
//
// Node roles are written when a node is granted, so roles written by an older
// hub miss topics the protocol gained since: after every (re)connect the hub
// brings the shared role, and every node role whose ACLs differ, up to date.
// Nodes granted by hubs before the shared role keep their self-contained role
// (see selfContainedNodeAcls).
import { randomBytes } from "node:crypto";
import mqtt, { type MqttClient } from "mqtt";
import { brokerAddress, brokerTrust, type ClientCertificate } from "../../lib/mqtt-url.ts";
import { hubSharedFilter, isNodeId, ROOT } from "../../protocol/topics.ts";
import { fleetSubscribeTopics, nodeOwnSubscribeTopics, nodePublishTopics, nodeSubscribeTopics } from "./acl.ts";
import { hubClientId, isReservedNodeId, type BrokerAccess, type NodeGrant } from "./broker-access.ts";

const COMMAND_TOPIC = "$CONTROL/dynamic-security/v1";
const RESPONSE_TOPIC = "$CONTROL/dynamic-security/v1/response";
export const HUB_ROLE = "edgefed-hub";
/** The role every node's client holds besides its own. */
export const NODE_ROLE = "edgefed-node";
const NODE_ROLE_PREFIX = "edgefed-node-";
/** Roles per listRoles answer when node roles are brought up to date. */
const ROLE_PAGE = 200;

export function nodeRoleName(nodeId: string): string {
  return `${NODE_ROLE_PREFIX}${nodeId}`;
}

type Acl = { acltype: string; topic: string; allow: boolean };
type DynsecResponse = { command: string; error?: string; data?: unknown; correlationData?: string };
type Pending = { resolve(response: DynsecResponse): void; reject(error: Error): void; timer: ReturnType<typeof setTimeout> };

const allow = (acltype: string) => (topic: string): Acl => ({ acltype, topic, allow: true });

/**
 * What every node may do, whoever it is, in the one role all node clients
 * hold: subscribe to the hub->fleet topics, and receive what it subscribed to
 * (the exact subscribe ACLs are the gate, so receiving needs no list per
 * node). Written once per connect, it keeps the per-node roles small.
 */
export function sharedNodeAcls(): Acl[] {
  return [...fleetSubscribeTopics().map(allow("subscribeLiteral")), allow("publishClientReceive")(`${ROOT}/#`)];
}

/**
 * A node's own role: exactly its node->hub topics to publish and its
 * hub->node topics to subscribe to. Dynamic-security ACLs cannot refuse the
 * retain flag on one topic (retain_available is all or nothing), so unlike
 * the embedded broker Mosquitto stores a node's retained heartbeat; the hub's
 * ingest ignores retained messages of kinds the protocol does not retain.
 */
export function nodeAcls(nodeId: string): Acl[] {
  return [...nodePublishTopics(nodeId).map(allow("publishClientSend")), ...nodeOwnSubscribeTopics(nodeId).map(allow("subscribeLiteral"))];
}

/**
 * The role hubs before the shared role wrote for each node: everything in
 * it, fleet topics and receive ACLs too. Nodes granted then keep it, brought
 * up to date in this shape: moving them to the shared role would take an
 * addClientRole per node, which disconnects the node and costs a rewrite of
 * the broker's file (a fleet-wide reconnect and 2 x N rewrites).
 */
export function selfContainedNodeAcls(nodeId: string): Acl[] {
  return [
    ...nodePublishTopics(nodeId).map(allow("publishClientSend")),
    ...nodeSubscribeTopics(nodeId).map(allow("subscribeLiteral")),
    ...nodeSubscribeTopics(nodeId).map(allow("publishClientReceive")),
  ];
}

/** The ACLs a node role should have: a self-contained one (the only kind with receive ACLs) stays self-contained. */
function wantedNodeAcls(nodeId: string, current: Acl[]): Acl[] {
  return current.some((acl) => acl.acltype === "publishClientReceive") ? selfContainedNodeAcls(nodeId) : nodeAcls(nodeId);
}

/**
 * What the broker holds for a node granted now besides its client: the roles
 * the grant writes, and the role names the client holds (also what the
 * registration benchmark seeds a large fleet with, bench/dynsec-grants.ts).
 */
export function grantedNodeRoles(nodeId: string): { clientRoles: string[]; roles: { rolename: string; acls: Acl[] }[] } {
  return { clientRoles: [NODE_ROLE, nodeRoleName(nodeId)], roles: [{ rolename: nodeRoleName(nodeId), acls: nodeAcls(nodeId) }] };
}

const HUB_ACLS: Acl[] = [
  { acltype: "publishClientSend", topic: `${ROOT}/#`, allow: true },
  { acltype: "publishClientReceive", topic: `${ROOT}/#`, allow: true },
  { acltype: "subscribePattern", topic: `${ROOT}/#`, allow: true },
  // Replicas sharing node traffic (EDGEFED_SHARED_SUBSCRIPTIONS): Mosquitto checks the whole $share/... filter.
  { acltype: "subscribePattern", topic: hubSharedFilter(`${ROOT}/#`), allow: true },
];

/** Same ACLs, whatever their order (the broker lists them sorted) and extra fields (priority). */
function sameAcls(a: Acl[], b: Acl[]): boolean {
  const keys = (acls: Acl[]) => acls.map((acl) => `${acl.acltype} ${acl.allow} ${acl.topic}`).sort().join("\n");
  return keys(a) === keys(b);
}

function clientRoles(response: DynsecResponse): string[] {
  const roles = (response.data as { client?: { roles?: { rolename?: unknown }[] } } | undefined)?.client?.roles ?? [];
  return roles.map((role) => String(role.rolename));
}

export async function connectMosquittoDynsec(options: {
  url: string;
  username: string;
  password: string;
  hubUsername: string;
  /** This replica's name, in its client id (broker-access.ts hubClientId). */
  hubId: string;
  /** For an mqtts:// broker: the CA its certificate must chain to (PEM). */
  ca?: string;
  /** The hub's own client certificate, for a listener with require_certificate. */
  clientCertificate?: ClientCertificate | null;
  timeoutMs?: number;
  log?: (line: string) => void;
}): Promise<BrokerAccess> {
  const log = options.log ?? (() => {});
  const timeoutMs = options.timeoutMs ?? 5_000;
  // Correlation ids are unique to this connection object: every admin
  // subscribed to the response topic sees every answer.
  const idPrefix = randomBytes(6).toString("hex");
  let nextId = 0;
  const pending = new Map<string, Pending>();
  let ready = false; // connected and set up on the current connection
  let closed = false;
  let lastError: Error | null = null;
  let connection = 0; // counts connects, so a stale setup cannot mark a newer connection ready
  // Waiters for `ready`: called with nothing after a successful setup, with an error on close().
  let readyWaiters: ((error?: Error) => void)[] = [];
  // One operation at a time, so a grant and a revoke of the same node cannot interleave.
  let queue: Promise<unknown> = Promise.resolve();

  const client: MqttClient = mqtt.connect({
    ...brokerAddress(options.url),
    ...brokerTrust(options.url, options.ca, options.clientCertificate),
    clientId: hubClientId("dynsec", options.hubId),
    username: options.username,
    password: options.password,
    clean: true,
    keepalive: 60,
    reconnectPeriod: 1_000,
    connectTimeout: timeoutMs,
  });

  function failPending(error: Error): void {
    for (const [id, entry] of pending) {
      clearTimeout(entry.timer);
      entry.reject(error);
      pending.delete(id);
    }
  }

  /** Sends one command and waits for its answer; throws on an error answer not listed in `tolerated`. */
  function call(command: Record<string, unknown> & { command: string }, tolerated: string[] = []): Promise<DynsecResponse> {
    const correlationData = `${idPrefix}-${++nextId}`;
    const answer = new Promise<DynsecResponse>((resolve, reject) => {
      const timer = setTimeout(() => {
        pending.delete(correlationData);
        // A publish the broker refuses is dropped silently, so a missing permission looks like this too.
        reject(new Error(`dynsec ${command.command}: no answer from ${options.url} within ${timeoutMs} ms (is "${options.username}" a dynsec admin?)`));
      }, timeoutMs);
      pending.set(correlationData, { resolve, reject, timer });
    });
    // QoS 0: at QoS 1 Mosquitto sends its PUBACK, then the answer, and Nagle's algorithm holds the
    // answer until our delayed ACK of the PUBACK (about 40 ms): a grant (3 commands) took 150 ms and
    // registrations ran at 7/s. A command lost with the connection fails its caller just the same (close).
    client.publish(COMMAND_TOPIC, JSON.stringify({ commands: [{ ...command, correlationData }] }), { qos: 0 });
    return answer.then((response) => {
      if (response.error && !tolerated.includes(response.error)) {
        throw new Error(`dynsec ${command.command} failed: ${response.error}`);
      }
      return response;
    });
  }

  /**
   * Creates the role with exactly these ACLs, or brings an existing one's ACLs
   * up to date (which kicks nobody); an existing role already right is left
   * alone, since every modifying command rewrites the broker's whole file.
   */
  async function ensureRole(rolename: string, acls: Acl[]): Promise<void> {
    const created = await call({ command: "createRole", rolename, acls }, ["Role already exists"]);
    if (!created.error) return;
    const existing = await call({ command: "getRole", rolename });
    const current = (existing.data as { role?: { acls?: Acl[] } } | undefined)?.role?.acls ?? [];
    if (!sameAcls(current, acls)) await call({ command: "modifyRole", rolename, acls });
  }

  /** Idempotent, run on every (re)connect: a restarted broker may have lost or reset its dynsec state. */
  async function setUp(): Promise<void> {
    await client.subscribeAsync(RESPONSE_TOPIC, { qos: 1 });
    await call({
      command: "setDefaultACLAccess",
      acls: [
        { acltype: "publishClientSend", allow: false },
        { acltype: "subscribe", allow: false },
      ],
    });
    await ensureRole(HUB_ROLE, HUB_ACLS);
    await ensureRole(NODE_ROLE, sharedNodeAcls());
    const hub = await call({ command: "getClient", username: options.hubUsername }, ["Client not found"]);
    if (hub.error) throw new Error(`dynsec: the hub user "${options.hubUsername}" does not exist on the broker`);
    if (!clientRoles(hub).includes(HUB_ROLE)) {
      await call({ command: "addClientRole", username: options.hubUsername, rolename: HUB_ROLE });
    }
  }

  /**
   * Gives every node role the ACLs acl.ts gives now, where they differ;
   * returns how many changed. Each change is its own turn in the queue: it
   * rewrites the broker's whole file, and a protocol that gained a node topic
   * changes every role, so grants waiting meanwhile go in between rather than
   * after the whole fleet. Stops when the connection it started on is gone
   * (the next connect starts over). A role deleted while it pages shifts the
   * pages and may leave one role for the next connect.
   */
  async function refreshNodeRoles(startedOn: number): Promise<number> {
    let changed = 0;
    for (let offset = 0; startedOn === connection; offset += ROLE_PAGE) {
      const page = await serially(() => call({ command: "listRoles", verbose: true, count: ROLE_PAGE, offset }));
      const roles = (page.data as { roles?: { rolename?: unknown; acls?: Acl[] }[] } | undefined)?.roles ?? [];
      for (const { rolename, acls = [] } of roles) {
        const nodeId = String(rolename).slice(NODE_ROLE_PREFIX.length);
        if (!String(rolename).startsWith(NODE_ROLE_PREFIX) || !isNodeId(nodeId)) continue;
        const wanted = wantedNodeAcls(nodeId, acls);
        if (sameAcls(acls, wanted) || startedOn !== connection) continue;
        // "Role not found": revoked since the page was listed.
        await serially(() => call({ command: "modifyRole", rolename: String(rolename), acls: wanted }, ["Role not found"]));
        changed++;
      }
      if (roles.length < ROLE_PAGE) break;
    }
    return changed;
  }

  client.on("message", (topic, payload) => {
    if (topic !== RESPONSE_TOPIC) return;
    let responses: DynsecResponse[];
    try {
      responses = (JSON.parse(payload.toString()) as { responses?: DynsecResponse[] }).responses ?? [];
    } catch {
      return;
    }
    for (const response of responses) {
      const entry = pending.get(String(response.correlationData));
      if (!entry) continue; // another admin's answer
      clearTimeout(entry.timer);
      pending.delete(String(response.correlationData));
      entry.resolve(response);
    }
  });
  client.on("connect", () => {
    ready = false;
    const current = ++connection;
    setUp().then(
      () => {
        if (current !== connection || !client.connected) return;
        ready = true;
        lastError = null;
        for (const wake of readyWaiters.splice(0)) wake();
        // In the background, a step at a time in the queue with grants: a large fleet's roles may take a while.
        refreshNodeRoles(current).then(
          (changed) => changed > 0 && log(`brought the broker roles of ${changed} node(s) up to date with the protocol's topics`),
          (error: Error) => log(`bringing node roles up to date failed (tried again on the next connect): ${error.message}`),
        );
      },
      (error: Error) => {
        // Usually the self-kick of addClientRole (see top): the reconnect sets up again.
        lastError = error;
      },
    );
  });
  client.on("close", () => {
    ready = false;
    // Answers to commands sent on this connection will not come (clean session).
    failPending(new Error(`dynsec: connection to ${options.url} lost`));
  });
  client.on("error", (error) => {
    lastError = error;
  });

  function whenReady(): Promise<void> {
    if (closed) return Promise.reject(new Error("dynsec: broker access is closed"));
    if (ready) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        readyWaiters = readyWaiters.filter((waiter) => waiter !== wake);
        reject(new Error(`dynsec: not connected to ${options.url} within ${timeoutMs} ms${lastError ? `: ${lastError.message}` : ""}`));
      }, timeoutMs);
      const wake = (error?: Error) => {
        clearTimeout(timer);
        if (error) reject(error);
        else resolve();
      };
      readyWaiters.push(wake);
    });
  }

  function serially<T>(operation: () => Promise<T>): Promise<T> {
    const result = queue.then(() => whenReady()).then(operation);
    queue = result.catch(() => undefined);
    return result;
  }

  function checkNodeId(nodeId: string): void {
    if (!isNodeId(nodeId)) throw new Error(`not a node id: ${JSON.stringify(nodeId)}`);
    if (isReservedNodeId(nodeId, [options.username, options.hubUsername])) {
      throw new Error(`node id "${nodeId}" is reserved for the hub`);
    }
  }

  try {
    await whenReady();
  } catch (error) {
    closed = true;
    client.end(true);
    throw error;
  }

  return {
    get healthy() {
      return ready && client.connected;
    },

    grant({ nodeId, username, password }: NodeGrant) {
      return serially(async () => {
        checkNodeId(nodeId);
        if (username !== nodeId) throw new Error(`node ${nodeId}: username must be the node id`);
        const rolename = nodeRoleName(nodeId);
        const existing = await call({ command: "getClient", username }, ["Client not found"]);
        if (!existing.error) {
          // Someone else's broker account (an operator, a bridge): never take it over.
          if (!clientRoles(existing).includes(rolename)) {
            throw new Error(`node ${nodeId}: the broker already has a client "${username}" that edgefed does not manage`);
          }
          // Its roles are kept up to date at every connect (refreshNodeRoles): only the password changes, one rewrite.
          // Kicks sessions that logged in with the old password (Mosquitto 2.0.11 does; see top).
          await call({ command: "setClientPassword", username, password });
          return;
        }
        // Usually new; left over from a grant cut short (client not created) or a revoke cut short (role not deleted) otherwise.
        await ensureRole(rolename, nodeAcls(nodeId));
        // clientid pins the node to its own id: it cannot connect under another client's id.
        await call({ command: "createClient", username, password, clientid: nodeId, roles: [{ rolename: NODE_ROLE }, { rolename }] });
      });
    },

    revoke(nodeId: string) {
      return serially(async () => {
        checkNodeId(nodeId);
        const rolename = nodeRoleName(nodeId);
        const existing = await call({ command: "getClient", username: nodeId }, ["Client not found"]);
        // deleteClient kicks a live session. The role goes only after its client (see top).
        if (!existing.error && clientRoles(existing).includes(rolename)) {
          await call({ command: "deleteClient", username: nodeId }, ["Client not found"]);
        }
        if (existing.error || clientRoles(existing).includes(rolename)) {
          await call({ command: "deleteRole", rolename }, ["Role not found"]);
        }
      });
    },

    async close() {
      if (closed) return;
      closed = true;
      ready = false;
      const error = new Error("dynsec: broker access is closed");
      for (const wake of readyWaiters.splice(0)) wake(error);
      failPending(error);
      await client.endAsync(true);
    },
  };
}
