// Which node messages the hub commits before it acknowledges them: every
// event kind of the topic table (QoS 1, not retained), closes among them;
// never a heartbeat or a retained latest value. And what runs after that
// commit (ingestThenCommit), on a real ingest, fleet view and SQLite
// registry: a receipted event's outbox id is handed on once the commit
// resolved (and an ack's handler answered), never for a failed commit or a
// handler's error.
import { afterEach, expect, test } from "bun:test";
import { withOutboxRef } from "../../protocol/receipts.ts";
import { NODE_TO_HUB_KINDS, nodeTopic } from "../../protocol/topics.ts";
import { registeredNode } from "../../test/fixtures/node-record.ts";
import { verdictMessage } from "../../test/fixtures/node-messages.ts";
import { cleanUp, closeLater, tempDir } from "../../test/helpers.ts";
import { Ingest, type IngestHooks } from "../ingest/ingest.ts";
import { Fleet } from "../nodes/fleet.ts";
import { openSqliteRegistry, openSqliteStore } from "../store/sqlite/sqlite-store.ts";
import { ingestThenCommit, nodeToCommitBeforeAck } from "./commit-before-ack.ts";

afterEach(cleanUp);

const T0 = 1_760_000_000_000;

test("events are committed before their ack, closes among them; heartbeats, state and birth are not", () => {
  const committed = NODE_TO_HUB_KINDS.filter((kind) => nodeToCommitBeforeAck(nodeTopic("pi-1", kind)) === "pi-1");
  expect(committed).toEqual(["verdicts", "cmd/ack", "closes", "portfolio", "health", "models", "work/progress", "work/result"]);
  expect(nodeToCommitBeforeAck("edgefed/v1/nodes/Not_A_Node/closes")).toBeNull();
  expect(nodeToCommitBeforeAck("edgefed/v1/hub/closes")).toBeNull();
});

async function setUp(onAck: IngestHooks["onAck"] = async () => null) {
  const dataDir = tempDir();
  const store = closeLater(openSqliteStore(dataDir));
  await store.write((tx) => tx.nodes.save(registeredNode("pi-1", T0)));
  const fleet = await Fleet.load(store, { heartbeatMs: 1000, offlineAfterMs: 10_000, degradedLoad: 4, listeningSince: 0 });
  const ingest = new Ingest(fleet, { onAck, onBirth: () => {}, onWorkProgress: async () => null, onWorkResult: async () => null }, () => {});
  const receipted: [string, number][] = [];
  const handle = ingestThenCommit(ingest, fleet, { receipted: (nodeId, ob) => receipted.push([nodeId, ob]) });
  const send = (kind: "verdicts" | "cmd/ack", message: object, ob: number | null) =>
    handle(nodeTopic("pi-1", kind), Buffer.from(ob === null ? JSON.stringify(message) : withOutboxRef(JSON.stringify(message), ob)), false);
  return { dataDir, receipted, send };
}

/** Every callback of a settled commit has run by the next turn of the event loop. */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

test("a receipted event's outbox id is handed on once its commit resolved, not before; one without an id is not", async () => {
  const { receipted, send } = await setUp();
  const commit = send("verdicts", verdictMessage(1, T0), 41)!;
  send("verdicts", verdictMessage(2, T0), null);
  expect(receipted).toEqual([]);
  await commit;
  await nextTurn();
  expect(receipted).toEqual([["pi-1", 41]]);
});

test("a failed commit hands on nothing", async () => {
  const { dataDir, receipted, send } = await setUp();
  const other = closeLater(openSqliteRegistry(dataDir));
  other.db.exec("CREATE TRIGGER refuse BEFORE UPDATE ON nodes BEGIN SELECT RAISE(ABORT, 'refused for the test'); END");
  await expect(send("verdicts", verdictMessage(1, T0), 41)!).rejects.toThrow("refused for the test");
  await nextTurn();
  expect(receipted).toEqual([]);
});

test("an ack is handed on once its handler answered, refused or not; not when the handler failed (a hub error: the node sends it again)", async () => {
  const answers = new Map<string, Promise<string | null>>([
    ["d-ok", Promise.resolve(null)],
    ["d-refused", Promise.resolve("no such decision")],
    ["d-failed", Promise.reject(new Error("the audit trail is unreachable"))],
  ]);
  answers.get("d-failed")!.catch(() => {});
  const { receipted, send } = await setUp((_node, ack) => answers.get(ack.id)!);
  const ack = (id: string) => ({ id, ok: true, appliedAt: T0 });
  await Promise.all([send("cmd/ack", ack("d-ok"), 1), send("cmd/ack", ack("d-refused"), 2), send("cmd/ack", ack("d-failed"), 3)]);
  await nextTurn();
  expect(receipted).toEqual([["pi-1", 1], ["pi-1", 2]]);
});
