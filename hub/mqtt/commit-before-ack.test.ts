// Which node messages the hub commits before it acknowledges them: every
// event kind of the topic table (QoS 1, not retained), closes among them;
// never a heartbeat or a retained latest value.
import { expect, test } from "bun:test";
import { NODE_TO_HUB_KINDS, nodeTopic } from "../../protocol/topics.ts";
import { nodeToCommitBeforeAck } from "./commit-before-ack.ts";

test("events are committed before their ack, closes among them; heartbeats, state and birth are not", () => {
  const committed = NODE_TO_HUB_KINDS.filter((kind) => nodeToCommitBeforeAck(nodeTopic("pi-1", kind)) === "pi-1");
  expect(committed).toEqual(["verdicts", "cmd/ack", "closes", "portfolio", "health", "models", "work/progress", "work/result"]);
  expect(nodeToCommitBeforeAck("edgefed/v1/nodes/Not_A_Node/closes")).toBeNull();
  expect(nodeToCommitBeforeAck("edgefed/v1/hub/closes")).toBeNull();
});
