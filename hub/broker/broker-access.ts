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
