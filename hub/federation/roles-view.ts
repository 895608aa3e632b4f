// The federation roles as the admin API shows and sets them, on any replica.
// Where the engine runs (FederationDuty.running) it answers, as on a single
// hub. A replica of a shared registry that does not run it answers from what
// the registry keeps (federationRoles: modes set, decision records,
// conflicts), names the replica that runs the engine, and sets a mode in the
// registry, where the running engine takes it up (FederationDuty polls).
// What only the engine knows (last evaluation, counters) it leaves null.
import { statSync } from "node:fs";
import type { HubStore } from "../store/hub-store.ts";
import { DEFAULT_FEDERATION_CONFIG, type FederationConfig, type RoleMode } from "./config.ts";
import { loadFederationConfig } from "./config-file.ts";
import type { EngineCounters, RoleStatus } from "./engine.ts";
import { engineReplica, type FederationDuty } from "./federation-duty.ts";
import { standingModes } from "./kept-modes.ts";
import { KEPT_RECORDS, type LiveDecision } from "./live.ts";
import type { ConflictRecord } from "./records.ts";
import { ROLE_NAMES, type RoleName } from "./role.ts";

export interface RolesViewOptions {
  duty: FederationDuty;
  store: HubStore;
  /** The config file ("" for the built-in defaults): its modes are the roles' unless one was set through the API since. */
  configFile: string;
  /** This replica's name. */
  hubId: string;
  clock(): number;
}

export class FederationRolesView {
  /** The file as last read well: a file made bad since is the running engine's to refuse. */
  private lastGoodConfig: FederationConfig = DEFAULT_FEDERATION_CONFIG;
  /** The file's modification time and size when last read: read and parsed again only once they change. */
  private lastRead: string | null = null;

  constructor(private readonly options: RolesViewOptions) {}

  /** The replica that runs the roles: this one, or the one the registry names (null: none started yet). */
  async engineReplica(): Promise<string | null> {
    return this.options.duty.running ? this.options.hubId : engineReplica(this.options.store);
  }

  async roles(): Promise<Record<RoleName, RoleStatus>> {
    const live = this.options.duty.running;
    if (live) return live.roles();
    const modes = await this.keptModes();
    const decided = await this.options.store.federationRoles.decisions({ limit: KEPT_RECORDS });
    const out = {} as Record<RoleName, RoleStatus>;
    for (const name of ROLE_NAMES) {
      const mode = modes[name];
      out[name] = { mode, enabled: mode === "active", last_evaluation: null, last_decision: decided.find((record) => record.role === name) ?? null };
    }
    return out;
  }

  /** The engine's counters where it runs; null elsewhere. */
  counters(): EngineCounters | null {
    return this.options.duty.running?.counters() ?? null;
  }

  /** The latest decisions (issued and advisory) and conflicts, newest first. */
  async recent(limit: number): Promise<{ decisions: LiveDecision[]; conflicts: ConflictRecord[] }> {
    const live = this.options.duty.running;
    if (live) return live.recent(limit);
    const { federationRoles } = this.options.store;
    const [decisions, conflicts] = await Promise.all([federationRoles.decisions({ limit }), federationRoles.conflicts({ limit })]);
    return { decisions, conflicts };
  }

  /** Sets a role's mode: in the engine where it runs here, else in the registry, for the running engine to take up. */
  async setMode(role: RoleName, mode: RoleMode): Promise<void> {
    const live = this.options.duty.running;
    if (live) return live.setMode(role, mode);
    const kept = { role, mode, fileMode: this.fileConfig().roles[role].mode, setAt: this.options.clock() };
    await this.options.store.write((tx) => tx.federationRoles.setMode(kept));
  }

  /** Each role's mode: the one set through the API unless the file changed that role's mode since. */
  private async keptModes(): Promise<Record<RoleName, RoleMode>> {
    const file = this.fileConfig();
    const modes = Object.fromEntries(ROLE_NAMES.map((name) => [name, file.roles[name].mode])) as Record<RoleName, RoleMode>;
    for (const [role, mode] of standingModes(file, await this.options.store.federationRoles.modes()).standing) modes[role] = mode;
    return modes;
  }

  /** The config file's roles, read again only when the file changed (every /roles and /status asks). */
  private fileConfig(): FederationConfig {
    const file = this.options.configFile;
    if (!file) return DEFAULT_FEDERATION_CONFIG;
    try {
      const { mtimeMs, size } = statSync(file);
      const version = `${mtimeMs}:${size}`;
      if (version === this.lastRead) return this.lastGoodConfig;
      this.lastGoodConfig = loadFederationConfig(file);
      this.lastRead = version;
    } catch {
      // Refused (and alerted) by the replica that runs the engine; the last one read well stands here too.
    }
    return this.lastGoodConfig;
  }
}
