// `edgefed-hub operator create|list|revoke|rotate`: named admin and viewer
// tokens in the registry the hub uses (hub/identity/operators.ts), as the
// admin API makes them. create and rotate print the token once on stdout;
// revoke and rotate stop the old token (and the operator's dashboard
// sessions) at once, also for a running hub. Audited as cli:<user>.
import { UsageError } from "../lib/command-line.ts";
import { parseSettings, settingsHelp, type Checked, type SettingsTable } from "../lib/settings.ts";
import { cliActor } from "./audit/cli-actor.ts";
import { parseWithSubject } from "./command-subject.ts";
import type { OperatorRole } from "./identity/bearer-verifier.ts";
import { createOperator, OPERATOR_ROLES, revokeOperator, rotateOperator, type ListedOperator } from "./identity/operators.ts";
import { REGISTRY_SETTINGS, withRegistry } from "./token-command.ts";

type Env = Record<string, string | undefined>;

function role(raw: string): Checked<OperatorRole> {
  return (OPERATOR_ROLES as readonly string[]).includes(raw) ? { value: raw as OperatorRole } : { problem: `one of ${OPERATOR_ROLES.join(", ")}` };
}

const CREATE_SETTINGS: SettingsTable<{ role: OperatorRole; dataDir: string; databaseUrl: string }> = [
  { key: "role", flag: "role", parse: role, value: "ROLE", default: "viewer", help: "admin (reads and writes) or viewer (reads only)" },
  ...REGISTRY_SETTINGS,
];

export function operatorHelp(): string[] {
  return [
    "operator create NAME options (prints the token once):",
    ...settingsHelp(CREATE_SETTINGS),
    "operator list: every operator (name, role, created, rotated, revoked)",
    "operator revoke NAME: its token and sessions stop at once",
    "operator rotate NAME: prints a new token once; the old one stops at once",
  ];
}

function operatorLine(o: ListedOperator): string {
  const state = o.revokedAt !== null ? `revoked ${new Date(o.revokedAt).toISOString()}` : "in force";
  const rotated = o.rotatedAt === null ? "" : `  rotated ${new Date(o.rotatedAt).toISOString()}`;
  return `${o.name}  ${o.role}  created ${new Date(o.createdAt).toISOString()} by ${o.createdBy}${rotated}  ${state}`;
}

export async function operatorCommand(args: string[], env: Env = process.env): Promise<void> {
  const [verb, ...rest] = args;
  const actor = cliActor();
  switch (verb) {
    case "list": {
      const operators = await withRegistry(parseSettings(REGISTRY_SETTINGS, rest, env), (store) => store.operators.list());
      for (const o of operators) console.log(operatorLine(o));
      if (operators.length === 0) console.error("no operators");
      return;
    }
    case "create": {
      const { subject: name, settings } = parseWithSubject(CREATE_SETTINGS, rest, env, "operator create", "operator's name");
      const { token, operator } = await withRegistry(settings, (store) => createOperator(store, { name, role: settings.role }, actor, Date.now()));
      console.error(`operator ${operator.name} (${operator.role}): its token, shown once (the hub keeps only a salted hash):`);
      console.log(token);
      return;
    }
    case "revoke": {
      const { subject: name, settings } = parseWithSubject(REGISTRY_SETTINGS, rest, env, "operator revoke", "operator's name");
      await withRegistry(settings, (store) => revokeOperator(store, name, actor, Date.now()));
      console.error(`operator ${name} revoked: its token and sessions stop at once`);
      return;
    }
    case "rotate": {
      const { subject: name, settings } = parseWithSubject(REGISTRY_SETTINGS, rest, env, "operator rotate", "operator's name");
      const { token } = await withRegistry(settings, (store) => rotateOperator(store, name, actor, Date.now()));
      console.error(`operator ${name}: its new token, shown once (the old one stops at once):`);
      console.log(token);
      return;
    }
    default:
      throw new UsageError([`operator ${verb ?? ""}: the operator commands are create, list, revoke and rotate (see --help)`]);
  }
}
