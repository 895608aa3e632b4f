import { afterAll, expect, test } from "bun:test";
import { statSync } from "node:fs";
import { join } from "node:path";
import { intentStream } from "../test/fixtures/intents.ts";
import { removeTempDirs, tempDir } from "../test/helpers.ts";
import { DEFAULT_CONFIG } from "../kernel/config.ts";
import { IntentProcessor } from "../kernel/intent-processor.ts";
import { openDatabase } from "./sqlite.ts";
import { startCheckpointer } from "./wal-checkpointer.ts";

afterAll(removeTempDirs);

test("the worker checkpoints the WAL into the database while the writer's own checkpoints are off", async () => {
  const path = join(tempDir(), "j.db");
  const processor = IntentProcessor.open(path, { config: DEFAULT_CONFIG });
  expect(await processor.startBackgroundCheckpoints(20)).toBe(true);
  const sizeBefore = statSync(path).size;
  processor.process(intentStream(5_000));
  // Only the worker can move pages into the main file now; wait (bounded) for it.
  const deadline = Date.now() + 10_000;
  while (statSync(path).size <= sizeBefore && Date.now() < deadline) await Bun.sleep(20);
  expect(statSync(path).size).toBeGreaterThan(sizeBefore);
  processor.close();
  // Nothing was lost on the way: a reopen sees every verdict.
  const reopened = IntentProcessor.open(path, { config: DEFAULT_CONFIG });
  expect(reopened.verdictsAfter(4_999, 10).map((v) => v.seq)).toEqual([5_000]);
  reopened.close();
});

test("the writer's automatic checkpoint is switched off only once the worker runs", async () => {
  const db = openDatabase(join(tempDir(), "x.db"));
  const autocheckpoint = () => db.prepare("PRAGMA wal_autocheckpoint").get<{ wal_autocheckpoint: number }>()!.wal_autocheckpoint;
  expect(autocheckpoint()).toBe(1000);
  const checkpointer = await startCheckpointer(db, 50);
  expect(checkpointer).not.toBeNull();
  expect(autocheckpoint()).toBe(0);
  await checkpointer!.stop();
  db.close();
  expect(await startCheckpointer(openDatabase(":memory:"))).toBeNull();
});
