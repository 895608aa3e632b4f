// The embedded broker's in-memory persistence (aedes-persistence), with its
// retained messages also indexed by topic. aedes asks the persistence for the
// retained messages a SUBSCRIBE matches, and the memory store answers by
// testing every retained topic against each filter: O(retained) per filter.
// Every node retains its state and birth and, on connect, subscribes to a
// handful of exact topics, so a connect storm of N nodes cost O(N²): at 2,000
// nodes this scan was a third of the hub's CPU, and registrations (sharing
// the hub's one thread) fell from 226/s at 1,000 nodes to 27/s at 10,000
// (docs/performance.md, "The registration storm"). A filter without
// wildcards, which is all a node may subscribe to (acl.ts), is now one map
// lookup; a wildcard filter (the hub's own, a watcher's) is answered by the
// memory store as before, which still holds every retained message.
import memoryPersistence, { type AedesPersistence, type Packet } from "aedes-persistence";
import { Readable } from "node:stream";

const hasWildcard = (filter: string) => filter.includes("+") || filter.includes("#");

/** What aedes stores as retained: a PUBLISH (its Packet type is the union of every packet kind). */
type Publish = Packet & { topic: string; payload: Buffer | string };
/** aedes calls storeRetained without a callback and awaits the promise it returns (aedes 1.x). */
type StoreRetained = (packet: Publish, cb?: (error?: Error | null) => void) => Promise<void> | void;

export function memoryPersistenceWithRetainedIndex(): AedesPersistence {
  const persistence = memoryPersistence();
  const retainedByTopic = new Map<string, Publish>();
  const storeInMemory = (persistence.storeRetained as StoreRetained).bind(persistence);
  const matchInMemory = persistence.createRetainedStreamCombi.bind(persistence);

  const storeRetained: StoreRetained = (packet, cb) => {
    // As the memory store does: an empty payload clears the topic's retained message.
    if (packet.payload.length === 0) retainedByTopic.delete(packet.topic);
    else retainedByTopic.set(packet.topic, packet);
    return storeInMemory(packet, cb);
  };
  const createRetainedStreamCombi = (filters: string[]): Readable => {
    if (filters.some(hasWildcard)) return matchInMemory(filters);
    return Readable.from(filters.flatMap((topic) => retainedByTopic.get(topic) ?? []));
  };
  return Object.assign(persistence, {
    storeRetained: storeRetained as AedesPersistence["storeRetained"],
    createRetainedStreamCombi,
    createRetainedStream: (filter: string) => createRetainedStreamCombi([filter]),
  });
}
