// The close feed: every close the journal recorded is queued for the hub once,
// with its number and outcome, also after a crash between the journal's
// commit and the queuing; an agent upgraded to the feed does not send the
// closes it recorded before.
import { afterAll, expect, test } from "bun:test";
import { join } from "node:path";
import { DEFAULT_CONFIG } from "../kernel/config.ts";
import { IntentProcessor } from "../kernel/intent-processor.ts";
import type { CloseMessage } from "../protocol/messages.ts";
import { decodeTopic } from "../protocol/topics.ts";
import { cleanUp, closeLater, tempDir } from "../test/helpers.ts";
import { openAgentDatabase } from "./agent-schema.ts";
import { CloseFeed } from "./close-feed.ts";
import { Outbox } from "./outbox.ts";

afterAll(cleanUp);

const NOW = Date.UTC(2026, 11, 1);

function open(dir: string) {
  const processor = closeLater(IntentProcessor.open(join(dir, "journal.sqlite"), { config: DEFAULT_CONFIG, clock: () => NOW }));
  const db = closeLater(openAgentDatabase(join(dir, "agent.sqlite")));
  return { processor, db, outbox: new Outbox(db, { maxMessages: 100 }) };
}

const queued = (outbox: Outbox) =>
  outbox.peek(100).map((m) => {
    expect(m.topic).toBe("edgefed/v1/nodes/pi-closes/closes");
    const decoded = decodeTopic("closes", Buffer.from(m.payload)); // what the hub will accept
    if (!decoded.ok) throw new Error(decoded.error);
    return decoded.value;
  });

test("closes are queued in order with their number and outcome, once, also those a crash left unqueued", () => {
  const dir = tempDir();
  const { processor, db, outbox } = open(dir);
  const feed = new CloseFeed(db, outbox, processor, "pi-closes", { queue: true }, () => NOW);
  processor.recordCloses([
    { type: "close", symbol: "BTCUSDT", ts: NOW - 2, pnl_usd: -12.5, exit: "stop_loss" },
    { type: "close", symbol: "ETHUSDT", ts: NOW - 1 },
  ]);
  expect(feed.catchUp()).toBe(2);
  expect(feed.catchUp()).toBe(0);
  // Recorded, then the crash: not queued by this run.
  processor.recordCloses([{ type: "close", symbol: "SOLUSDT", ts: NOW, pnl_usd: 30, exit: "take_profit" }]);
  const again = new CloseFeed(db, outbox, processor, "pi-closes", { queue: true }, () => NOW);
  again.start();
  const expected: CloseMessage[] = [
    { seq: 1, symbol: "BTCUSDT", ts: NOW - 2, pnl_usd: -12.5, exit: "stop_loss" },
    { seq: 2, symbol: "ETHUSDT", ts: NOW - 1 },
    { seq: 3, symbol: "SOLUSDT", ts: NOW, pnl_usd: 30, exit: "take_profit" },
  ];
  expect(queued(outbox)).toEqual(expected);
  expect(again.cursor).toBe(3);
});

test("an agent store from before the feed starts after the closes the journal holds", () => {
  const dir = tempDir();
  const { processor, db, outbox } = open(dir);
  processor.recordCloses([{ type: "close", symbol: "BTCUSDT", ts: NOW - 5, pnl_usd: 1 }]);
  db.exec("UPDATE close_cursor SET seq = NULL"); // as step 5 of the agent schema leaves an upgraded store
  const feed = new CloseFeed(db, outbox, processor, "pi-closes", { queue: true }, () => NOW);
  expect(feed.cursor).toBe(1);
  processor.recordCloses([{ type: "close", symbol: "ETHUSDT", ts: NOW, exit: "manual" }]);
  feed.catchUp();
  expect(queued(outbox)).toEqual([{ seq: 2, symbol: "ETHUSDT", ts: NOW, exit: "manual" }]);
});

test("without a hub nothing is queued, and the cursor moves on", () => {
  const dir = tempDir();
  const { processor, db, outbox } = open(dir);
  const feed = new CloseFeed(db, outbox, processor, "pi-closes", { queue: false }, () => NOW);
  processor.recordCloses([{ type: "close", symbol: "BTCUSDT", ts: NOW }]);
  expect(feed.catchUp()).toBe(1);
  expect(outbox.depth()).toBe(0);
  expect(new CloseFeed(db, outbox, processor, "pi-closes", { queue: true }, () => NOW).cursor).toBe(1);
});
