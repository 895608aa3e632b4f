// The load generator's node identities: an Ed25519 key pair per node id,
// made once and kept in a keys file under the cache dir, so a rerun
// re-registers the same nodes with the same keys (the hub answers 200, not
// 201) instead of filling the registry with new ones. The file holds
// private keys: written with mode 0600, never logged. Beside it, each node's
// last verdict seq per hub, so a rerun's verdicts go on increasing.
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { generateKeyPair, type Ed25519KeyPair } from "../../protocol/signing.ts";

export interface LoadNode {
  nodeId: string;
  keys: Ed25519KeyPair;
}

export const KEYS_FILE = "loadgen-keys.json";

/** Node ids of a load run: `lg-00000`, `lg-00001`, ... (at most 63 characters, as protocol/node-id.ts wants). */
export function loadNodeId(prefix: string, index: number): string {
  return `${prefix}-${String(index).padStart(5, "0")}`;
}

/**
 * The first `count` nodes with prefix `prefix`, their keys read from
 * `cacheDir`'s keys file; the missing ones are made and the file rewritten.
 * Returns how many keys were made now.
 */
export function loadOrCreateNodes(cacheDir: string, prefix: string, count: number): { nodes: LoadNode[]; created: number } {
  mkdirSync(cacheDir, { recursive: true });
  const file = join(cacheDir, KEYS_FILE);
  const cached: Record<string, Ed25519KeyPair> = existsSync(file) ? JSON.parse(readFileSync(file, "utf8")) : {};
  let created = 0;
  const nodes: LoadNode[] = [];
  for (let i = 0; i < count; i++) {
    const nodeId = loadNodeId(prefix, i);
    let keys = cached[nodeId];
    if (!keys) {
      keys = cached[nodeId] = generateKeyPair();
      created++;
    }
    nodes.push({ nodeId, keys });
  }
  if (created > 0) {
    // Written whole then renamed: an interrupted run leaves the old file intact.
    const temp = `${file}.tmp`;
    writeFileSync(temp, JSON.stringify(cached), { mode: 0o600 });
    chmodSync(temp, 0o600);
    renameSync(temp, file);
  }
  return { nodes, created };
}

export const SEQS_FILE = "loadgen-verdict-seqs.json";

/** Each node's last verdict seq a hub acknowledged, by the hub's public key: a rerun against the same hub goes on from there. */
export type VerdictSeqs = Record<string, Record<string, number>>;

export function readVerdictSeqs(cacheDir: string): VerdictSeqs {
  const file = join(cacheDir, SEQS_FILE);
  return existsSync(file) ? JSON.parse(readFileSync(file, "utf8")) : {};
}

export function saveVerdictSeqs(cacheDir: string, hubPublicKey: string, seqs: Record<string, number>): void {
  const all = readVerdictSeqs(cacheDir);
  all[hubPublicKey] = { ...all[hubPublicKey], ...seqs };
  const file = join(cacheDir, SEQS_FILE);
  writeFileSync(`${file}.tmp`, JSON.stringify(all));
  renameSync(`${file}.tmp`, file);
}
