// The six roles, in priority order (role.ts ROLE_NAMES).
import type { Role, RoleName } from "../role.ts";
import { capitalAllocator } from "./capital-allocator.ts";
import { essGuard } from "./ess-guard.ts";
import { researcher } from "./researcher.ts";
import { riskOfficer } from "./risk-officer.ts";
import { strategyAllocator } from "./strategy-allocator.ts";
import { supervisor } from "./supervisor.ts";

export const ROLES: Readonly<Record<RoleName, Role>> = {
  supervisor,
  risk_officer: riskOfficer,
  ess_guard: essGuard,
  capital_allocator: capitalAllocator,
  strategy_allocator: strategyAllocator,
  researcher,
};
