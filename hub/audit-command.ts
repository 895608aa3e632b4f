// `edgefed-hub audit verify`: walks the registry's audit trail oldest first
// and checks its hash chain (hub/audit/audit-chain.ts). Exit 0 and a count
// when every record matches; exit 1 naming the first record that does not.
import { verifyAuditTrail } from "./audit/audit-chain.ts";
import { UsageError } from "../lib/command-line.ts";
import { parseSettings } from "../lib/settings.ts";
import { REGISTRY_SETTINGS, withRegistry } from "./token-command.ts";

export function auditHelp(): string[] {
  return ["audit verify: checks the audit trail's hash chain; exit 1 names the first record that does not match"];
}

export async function auditCommand(args: string[], env: Record<string, string | undefined> = process.env): Promise<void> {
  const [verb, ...rest] = args;
  if (verb !== "verify") throw new UsageError([`audit ${verb ?? ""}: the audit command is \`audit verify\` (see --help)`]);
  const verdict = await withRegistry(parseSettings(REGISTRY_SETTINGS, rest, env), (store) => verifyAuditTrail(store));
  if (verdict.ok) {
    console.log(`audit trail intact: ${verdict.records} record(s), every hash matches`);
    return;
  }
  console.error(`audit trail broken at record ${verdict.seq}: ${verdict.problem} (${verdict.records} record(s) before it match)`);
  process.exitCode = 1;
}
