// The seam between the hub and whichever broker it runs with. The embedded
// broker (aedes) checks credentials and ACLs itself from what the hub grants;
// an external Mosquitto learns them through its dynamic-security plugin.
// Either way the rules are the ones in acl.ts.

/**
 * Client ids and user names starting with this belong to the hub's own
 * connections; no node may have such an id, or it could take over (and keep
 * kicking) the hub's session.
 */
export const HUB_CLIENT_PREFIX = "edgefed-hub";

/** What a hub id (EDGEFED_HUB_ID) looks like: it becomes part of the hub's MQTT client ids. */
export const HUB_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/**
 * The client id of one replica's connection (`role`: ingest, dynsec):
 * replicas need ids of their own, or the broker would keep kicking one
 * with the other. The slash keeps them apart from the watchers' prefix.
 */
export function hubClientId(role: "ingest" | "dynsec", hubId: string): string {
  return `${HUB_CLIENT_PREFIX}${role === "dynsec" ? "-dynsec" : ""}/${hubId}`;
}

export function isReservedNodeId(nodeId: string, hubUsernames: readonly string[]): boolean {
  return nodeId.startsWith(HUB_CLIENT_PREFIX) || hubUsernames.includes(nodeId);
}

export interface NodeGrant {
  nodeId: string;
  /** The MQTT username and client id the node must use: its node id. */
  username: string;
  password: string;
}

export interface BrokerAccess {
  /** Creates the node's broker identity or replaces its password; the old password stops working at once. */
  grant(grant: NodeGrant): Promise<void>;
  /** Removes the node's broker identity and disconnects it if connected. Unknown nodes are fine. */
  revoke(nodeId: string): Promise<void>;
  /** Whether the access channel currently works (for /health). */
  readonly healthy: boolean;
  close(): Promise<void>;
}
