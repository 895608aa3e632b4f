// A correction to aedes 1.2 with its memory persistence, for the hub's own
// session (clean: false). When authorizeForward drops a QoS 1 message for a
// persistent client (the embedded broker drops the ones the hub ingested
// before their PUBACK, embedded-broker.ts), aedes removes it from the
// client's outgoing queue with outgoingClearMessageId(packet) — but that
// packet has no messageId yet, so the memory store removes the first queued
// message without one: another message still to be delivered. When that one
// is delivered, outgoingUpdate finds nothing ("no such packet") and aedes
// closes the hub's connection. In a 2,000-node storm the hub lost its broker
// connection a dozen times (hub log: "broker connection lost; reconnecting").
// Here a message the broker drops is removed by its broker id and counter,
// which name it alone.
import type { AedesPersistence } from "aedes-persistence";

type QueuedPacket = { messageId?: unknown; brokerId?: string; brokerCounter?: number };
type Client = Parameters<AedesPersistence["outgoingClearMessageId"]>[0];
type AsyncOutgoing = {
  outgoingUpdate(client: Client, packet: QueuedPacket): Promise<void>;
  outgoingClearMessageId(client: Client, packet: QueuedPacket, cb?: unknown): Promise<unknown>;
};

export function clearingDroppedForwardsExactly(persistence: AedesPersistence): AedesPersistence {
  const outgoing = persistence as unknown as AsyncOutgoing;
  const clearByMessageId = outgoing.outgoingClearMessageId.bind(persistence);
  const update = outgoing.outgoingUpdate.bind(persistence);
  let marks = 0;
  outgoing.outgoingClearMessageId = async (client, packet, cb?: unknown) => {
    // A PUBACK names its message by messageId; a dropped forward has none, only its broker id and counter.
    // (aedes 1.2 calls without a callback; a caller with one gets the store's own behaviour.)
    if (cb !== undefined || packet.messageId !== undefined || packet.brokerId === undefined) return clearByMessageId(client, packet, cb);
    // Mark the queued copy (outgoingUpdate finds it by broker id and counter), then remove it by the mark.
    const mark = `dropped-${++marks}`;
    try {
      await update(client, { brokerId: packet.brokerId, brokerCounter: packet.brokerCounter, messageId: mark });
    } catch {
      return undefined; // not queued for this client: nothing to remove
    }
    return clearByMessageId(client, { messageId: mark });
  };
  return persistence;
}
