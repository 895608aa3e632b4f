// Runs in a worker thread: checkpoints a WAL database on its own connection
// so the writer's thread never pays for copying pages into the main file.
// A PASSIVE checkpoint never blocks the writer; it copies what it can.
import { Database } from "bun:sqlite";

declare const self: Worker;

self.onmessage = (event: MessageEvent<{ path: string; intervalMs: number } | "stop">) => {
  if (event.data === "stop") return;
  const { path, intervalMs } = event.data;
  const db = new Database(path);
  db.exec("PRAGMA busy_timeout = 5000");
  db.exec("PRAGMA synchronous = FULL");
  const timer = setInterval(() => {
    try {
      db.exec("PRAGMA wal_checkpoint(PASSIVE)");
    } catch {
      // Busy or locked: the next round tries again; the WAL only grows meanwhile.
    }
  }, intervalMs);
  self.onmessage = () => {
    clearInterval(timer);
    db.close();
    self.postMessage("stopped");
  };
  self.postMessage("started");
};
