// One intent processor per journal. Two processors on one file would each keep
// their own trade window in memory and so let through twice the trades the
// cooldown and rate window allow. A lock file beside the journal names the
// holder; a lock left by a process that died (crash, kill -9, power cut) is
// recognised as stale and taken over.
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from "node:fs";

/** Linux's per-boot id: a lock written before a reboot is stale even if its pid was reused since. */
function bootId(): string {
  try {
    return readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
  } catch {
    return "unknown";
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

export class JournalInUseError extends Error {
  override name = "JournalInUseError";
}

/** Takes the lock for `dbPath` or throws JournalInUseError; returns the release function. */
export function lockJournal(dbPath: string): () => void {
  const lockPath = `${dbPath}.lock`;
  const owner = `${process.pid} ${bootId()}`;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(lockPath, "wx", 0o600);
      writeSync(fd, owner);
      closeSync(fd);
      return () => {
        try {
          if (readFileSync(lockPath, "utf8") === owner) unlinkSync(lockPath);
        } catch {
          // already gone: nothing to release
        }
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    let holder = "";
    try {
      holder = readFileSync(lockPath, "utf8");
    } catch {
      continue; // released between our attempt and this read: try again
    }
    const [pid, boot] = holder.split(" ");
    if (boot === bootId() && Number(pid) > 0 && isAlive(Number(pid))) {
      throw new JournalInUseError(`${dbPath} is in use by process ${pid} (${lockPath}): one intent processor per journal`);
    }
    try {
      unlinkSync(lockPath); // stale: its process is gone
    } catch {
      // another process removed it first: try again
    }
  }
  throw new JournalInUseError(`${dbPath}: could not take ${lockPath}`);
}
