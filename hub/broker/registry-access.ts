// BrokerAccess for a broker that authenticates and authorises nodes from the
// hub's PostgreSQL registry itself (EMQX with the queries in examples/emqx/,
// docs/operations.md "A broker cluster: EMQX"): the node's row (its password
// hash, written by registration in the same commit) and the `mqtt_acl` view
// are its credentials and ACLs, so the hub has nothing to tell the broker.
// A grant takes effect when its registration commits; a revoke when the
// removal does: the node can no longer connect, and an open session ends at
// its next publish once the broker's ACL cache expires (EMQX's
// authorization.cache.ttl), since the view no longer holds its rows.
import type { BrokerAccess } from "./broker-access.ts";

export function registryBrokerAccess(): BrokerAccess {
  return {
    grant: async () => {},
    revoke: async () => {},
    // Nothing of its own to lose: the hub's broker connection is reported on its own (/health mqtt).
    healthy: true,
    close: async () => {},
  };
}
