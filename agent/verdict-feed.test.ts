// The verdict feed: events taken from the journal carry when and how each
// verdict was judged, not when they were queued.
import { afterAll, expect, test } from "bun:test";
import { join } from "node:path";
import { DEFAULT_CONFIG } from "../kernel/config.ts";
import { IntentProcessor } from "../kernel/intent-processor.ts";
import { intentStream } from "../test/fixtures/intents.ts";
import { cleanUp, closeLater, tempDir } from "../test/helpers.ts";
import { openAgentDatabase } from "./agent-schema.ts";
import { ConnectivityLog } from "./connectivity-log.ts";
import { Outbox } from "./outbox.ts";
import { VerdictFeed } from "./verdict-feed.ts";

afterAll(cleanUp);

test("verdict events say when and how each verdict was judged, also when queued later (after a crash)", () => {
  const dir = tempDir();
  let now = 1_000;
  const processor = closeLater(IntentProcessor.open(join(dir, "journal.sqlite"), { config: DEFAULT_CONFIG, clock: () => now }));
  const db = closeLater(openAgentDatabase(join(dir, "agent.sqlite")));
  const log = new ConnectivityLog(db);
  log.record(true, 500);
  const intents = intentStream(2, { seed: 8, prefix: "judged" }).map((intent, i) => ({ ...intent, ts: 900 + i }));
  processor.process([intents[0]!]); // judged online at 1,000, then the crash: not queued
  now = 2_000;
  log.record(false, 1_500);
  processor.process([intents[1]!]); // judged offline at 2,000
  now = 9_000; // queued much later, online again
  log.record(true, 8_000);
  const outbox = new Outbox(db, { maxMessages: 100 });
  new VerdictFeed(db, outbox, processor, "pi-judged", log, { queue: true }, () => now).catchUp();
  const events = outbox.peek(10).map((m) => JSON.parse(m.payload) as { seq: number; ts: number; simulated: boolean });
  expect(events.map((e) => [e.seq, e.ts, e.simulated])).toEqual([
    [1, 1_000, false],
    [2, 2_000, true],
  ]);
});
