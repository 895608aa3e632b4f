// The rule for a role mode set through the admin API (kept in the registry,
// federationRoles): it stands while the config file still gives that role
// the mode it gave when the mode was set; once the file changes that role's
// mode, the file's is in force again. The engine (live.ts) and the replicas
// that do not run it (roles-view.ts) both apply it.
import type { StoredRoleMode } from "../store/hub-store.ts";
import type { FederationConfig, RoleMode } from "./config.ts";
import { ROLE_NAMES, type RoleName } from "./role.ts";

/** The kept modes that stand under `file`, and those it overrode since (or of no role known). */
export function standingModes(file: FederationConfig, kept: readonly StoredRoleMode[]): { standing: Map<RoleName, RoleMode>; overridden: StoredRoleMode[] } {
  const standing = new Map<RoleName, RoleMode>();
  const overridden: StoredRoleMode[] = [];
  for (const stored of kept) {
    const role = ROLE_NAMES.find((name) => name === stored.role);
    if (role && file.roles[role].mode === stored.fileMode) standing.set(role, stored.mode);
    else overridden.push(stored);
  }
  return { standing, overridden };
}
