// The roles as a replica that does not run the engine shows them
// (roles-view.ts): the config file's modes, read again only when the file
// changed (its mtime or size), not parsed on every /roles and /status.
import { afterAll, expect, test } from "bun:test";
import { utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { removeTempDirs, tempDir } from "../../test/helpers.ts";
import { startTestHub } from "../../test/support/hub-harness.ts";
import { FederationRolesView } from "./roles-view.ts";

afterAll(removeTempDirs);

test("the config file is read again only once its mtime or size changed", async () => {
  const { hub, stop } = await startTestHub({ tls: false });
  try {
    await hub.federation.close(); // as on a replica that does not run the engine
    const configFile = join(tempDir(), "federation.yaml");
    // Same length: only the mtime tells the two apart.
    const written = new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000); // whole seconds: set back exactly
    writeFileSync(configFile, "roles:\n  supervisor: {mode: advisory}\n");
    utimesSync(configFile, written, written);
    const view = new FederationRolesView({ duty: hub.federation, store: hub.context.store, configFile, hubId: "view", clock: Date.now });
    expect((await view.roles()).supervisor.mode).toBe("advisory");
    writeFileSync(configFile, "roles:\n  supervisor: {mode: active}  \n");
    utimesSync(configFile, written, written);
    expect((await view.roles()).supervisor.mode).toBe("advisory"); // not read again
    utimesSync(configFile, written, new Date(written.getTime() + 1000));
    expect((await view.roles()).supervisor.mode).toBe("active");
  } finally {
    await stop();
  }
});
