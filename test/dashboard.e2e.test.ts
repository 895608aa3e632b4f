// The dashboard in a real browser (Debian's Chromium driven by
// playwright-core) against a real hub with three real agent processes:
// login refused and accepted (the admin token; the watch token read-only),
// the fleet table, a killed agent's row turning offline without a reload,
// FREEZE from the page reaching every agent with its acks shown, the
// decision list summarised with each decision's targets paged, a role's
// decision marked in the timeline, the node's policy fields with the
// decision that set each, the work page (a package submitted, run, shown
// with its history, one cancelled), a token revoked once confirmed, a write
// without the CSRF token refused,
// no serious or critical axe-core violation
// on any page, and screenshots of each page at desktop and phone width
// (test-artifacts/dashboard/).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { removeTempDirs } from "./helpers.ts";
import { agentStatus, startAgentProcess, writeAgentEnv, type AgentProcess } from "./support/agent-process.ts";
import { browserMissing, type AxeViolation, DESKTOP, launchChromium, PHONE, screenshot, seriousAccessibilityViolations } from "./support/browser.ts";
import { eventually, startTestHub, type TestHub } from "./support/hub-harness.ts";

const missing = browserMissing();
if (missing) console.warn(`skipping the dashboard's browser tests: ${missing}`);

const OFFLINE_AFTER_S = 3;
const NODE_IDS = ["dash-001", "dash-002", "dash-003"];
let hub: TestHub;
let agents: (AgentProcess & { nodeId: string })[] = [];
let browser: Browser;
let context: BrowserContext;
let page: Page;
/** A package the work page's test ran, for the accessibility sweep of its detail. */
let workPackageId = "";

// A hub, three agents and a browser on a loaded 2-core machine.
beforeAll(async () => {
  if (missing) return;
  // The agents report this machine's load, which other tests push up: no node counts as degraded for it here.
  hub = await startTestHub({ env: { EDGEFED_OFFLINE_AFTER_S: String(OFFLINE_AFTER_S), EDGEFED_DEGRADED_LOAD: "1000" } });
  agents = NODE_IDS.map((nodeId) => ({ nodeId, ...startAgentProcess(writeAgentEnv(hub, nodeId)) }));
  await Promise.all(agents.map((a) => a.socket));
  await eventually(async () => {
    const nodes = (await hub.api("GET", "/federation/nodes")).body.nodes as { node_id: string; health: string }[];
    return nodes.filter((n) => n.health === "healthy").length === NODE_IDS.length;
  }, 30_000, "three healthy agents");
  browser = await launchChromium();
  context = await browser.newContext({ viewport: DESKTOP });
  page = await context.newPage();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  for (const agent of agents) agent.child.kill("SIGKILL");
  await hub?.stop();
  removeTempDirs();
});

async function logIn(token: string): Promise<void> {
  await page.goto(hub.hub.httpUrl);
  await page.fill("#token", token);
  await page.click("button[type=submit]");
}

describe.skipIf(missing !== null)("the dashboard in Chromium", () => {
  test("login is refused with a bad token and accepted with the admin token", async () => {
    await logIn("not-the-admin-token");
    await expect(page.getByRole("alert").textContent()).resolves.toContain("Login refused");
    await logIn(hub.adminToken);
    await page.getByRole("heading", { name: "Fleet" }).waitFor();
    const cookies = await context.cookies();
    expect(cookies.find((c) => c.name === "edgefed_session")).toMatchObject({ httpOnly: true, sameSite: "Strict" });
  }, 60_000);

  test("the fleet table lists the nodes, healthy", async () => {
    for (const id of NODE_IDS) await page.locator(`tr[data-node="${id}"][data-health="healthy"]`).waitFor();
    await expect(page.getByTestId("count-healthy").textContent()).resolves.toBe(String(NODE_IDS.length));
  }, 60_000);

  test("a write without the CSRF token is refused (403), and with a wrong one", async () => {
    const attempt = (headers: Record<string, string>) =>
      page.evaluate(async (headers) => {
        const response = await fetch("/api/federation/decisions", { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify({ type: "FREEZE", target: "fleet", payload: {} }) });
        return { status: response.status, body: await response.json() };
      }, headers);
    await expect(attempt({})).resolves.toEqual({ status: 403, body: expect.objectContaining({ error: "csrf_failed" }) });
    await expect(attempt({ "x-csrf-token": "forged" })).resolves.toEqual({ status: 403, body: expect.objectContaining({ error: "csrf_failed" }) });
    expect((await hub.api("GET", "/api/federation/decisions")).body.decisions).toEqual([]); // nothing was issued
  }, 60_000);

  test("FREEZE issued from the page reaches every agent, and the page shows their acks", async () => {
    await page.goto(`${hub.hub.httpUrl}/#/decisions`);
    const confirmation = new Promise<string>((resolve) =>
      page.once("dialog", (dialog) => {
        resolve(dialog.message());
        void dialog.accept();
      }),
    );
    await page.getByRole("button", { name: "FREEZE fleet" }).click();
    expect(await confirmation).toContain(`reaches ${NODE_IDS.length} nodes`);
    await page.getByRole("status").filter({ hasText: "FREEZE issued" }).waitFor();
    for (const agent of agents) await eventually(async () => (await agentStatus(agent)).mode === "FREEZE", 15_000, `${agent.nodeId} in FREEZE`);
    // Acks arrive over the live stream: the timeline updates without a reload.
    await page.getByTestId("ack-summary").filter({ hasText: `${NODE_IDS.length} of ${NODE_IDS.length} acknowledged` }).first().waitFor({ timeout: 15_000 });
  }, 60_000);

  test("the Decisions page lists summaries and opens a decision's targets a page at a time, with their acks", async () => {
    await page.goto(`${hub.hub.httpUrl}/#/fleet`); // from another page, so the Decisions page loads its list afresh
    const listed = page.waitForResponse((r) => r.url().includes("/api/federation/decisions?") && r.url().includes("summary=1"));
    await page.goto(`${hub.hub.httpUrl}/#/decisions`);
    const summary = await (await listed).json();
    expect(summary.decisions[0]).toMatchObject({ type: "FREEZE", summary: { targets: NODE_IDS.length } });
    expect(summary.decisions[0].targets).toBeUndefined(); // counted, not listed
    const freeze = page.locator(`[data-decision="${summary.decisions[0].id}"]`);
    const paged = page.waitForResponse((r) => r.url().includes(`/api/federation/decisions/${summary.decisions[0].id}/targets`));
    await freeze.getByText("Targets", { exact: true }).click();
    expect((await paged).status()).toBe(200);
    await freeze.getByLabel("Show").selectOption("acked");
    for (const id of NODE_IDS) await freeze.getByTestId("targets").locator("li", { hasText: id }).filter({ hasText: "applied" }).waitFor();
  }, 60_000);

  test("a role's decision is marked as the role's in the timeline, and the node page says which decision set each policy field", async () => {
    const riskOfficer = { kind: "role", role: "risk_officer", rule: "node_drawdown", inputs: {}, thresholds: {} } as const;
    const byRole = await hub.hub.decisions.issue({ type: "RISK_ADJUSTMENT", target: NODE_IDS[0]!, payload: { max_leverage: 2 } }, riskOfficer);
    const freezeId = (await hub.api("GET", "/api/federation/decisions?summary=1&types=FREEZE&limit=1")).body.decisions[0].id as string;

    await page.goto(`${hub.hub.httpUrl}/#/decisions`);
    const marked = page.locator(`[data-decision="${byRole.decision.id}"][data-origin="role"]`);
    await marked.locator(".origin-role", { hasText: "role risk_officer" }).waitFor();

    await page.goto(`${hub.hub.httpUrl}/#/nodes/${NODE_IDS[0]}`);
    const leverage = page.locator('tr[data-field="max_leverage"]');
    await leverage.locator(`[data-decision-id="${byRole.decision.id}"]`).waitFor();
    await expect(leverage.textContent()).resolves.toContain("RISK_ADJUSTMENT (this node) role risk_officer");
    const frozen = page.locator('tr[data-field="freeze"]');
    await frozen.locator(`[data-decision-id="${freezeId}"]`).waitFor();
    await expect(frozen.textContent()).resolves.toContain("FREEZE (fleet) by operator");
    await expect(page.locator('tr[data-field="enforcement"] td').last().textContent()).resolves.toBe("default");

    // The Federation page's mode, freeze and capital profile history marks it too.
    const allocator = { kind: "role", role: "capital_allocator", rule: "drawdown_step_down", inputs: {}, thresholds: {} } as const;
    const profile = await hub.hub.decisions.issue({ type: "CAPITAL_PROFILE", target: NODE_IDS[0]!, payload: { profile: "SMALL" } }, allocator);
    await page.goto(`${hub.hub.httpUrl}/#/federation`);
    await page.locator(`tr[data-decision="${profile.decision.id}"][data-origin="role"] .origin-role`, { hasText: "role capital_allocator" }).waitFor();
    await page.locator(`tr[data-decision="${freezeId}"][data-origin="operator"]`, { hasText: "by operator" }).waitFor();
  }, 60_000);

  test("the decision form checks through a dry run: a bad payload shows the hub's error beside the form and issues nothing", async () => {
    const issuedBefore = (await hub.api("GET", "/api/federation/decisions")).body.decisions.length;
    await page.goto(`${hub.hub.httpUrl}/#/decisions`);
    await page.getByLabel("Type").selectOption("RISK_ADJUSTMENT");
    await page.getByLabel("Payload (JSON)").fill(JSON.stringify({ max_leverage: "lots" }));
    let asked = false;
    page.once("dialog", (dialog) => {
      asked = true;
      void dialog.dismiss();
    });
    await page.getByRole("button", { name: "Check and issue" }).click();
    await expect(page.locator("#payload-problem").filter({ hasText: "max_leverage" }).textContent()).resolves.toContain("max_leverage");
    expect(asked).toBe(false); // refused before any confirmation
    expect((await hub.api("GET", "/api/federation/decisions")).body.decisions.length).toBe(issuedBefore);
  }, 60_000);

  test("the node page charts the node's heartbeat metrics from the hub's 1-minute buckets", async () => {
    await page.goto(`${hub.hub.httpUrl}/#/nodes/${NODE_IDS[0]}`);
    for (const title of ["Load", "RSS", "Outbox depth", "Verdicts per minute"]) {
      await page.locator("figure.chart", { has: page.getByText(title, { exact: true }) }).locator("canvas").waitFor();
    }
  }, 60_000);

  test("the work page: a submit the hub refuses shows why; a diagnostics package runs, with its attempts and history; one nobody can take is cancelled", async () => {
    await page.goto(`${hub.hub.httpUrl}/#/work`);
    await page.getByRole("heading", { name: "Work", exact: true }).waitFor();
    const submitted = async (): Promise<string> => {
      await page.getByRole("button", { name: "Submit", exact: true }).click();
      const status = await page.getByRole("status").filter({ hasText: "Submitted" }).textContent();
      return /Submitted (wp_\S+) /.exec(status!)![1]!;
    };
    // Refused by the hub's validation: its error beside the form, nothing stored.
    await page.getByLabel("Target (any, fleet or a node id)").fill("no-such-node");
    await page.getByRole("button", { name: "Submit", exact: true }).click();
    await page.locator("#work-problem").filter({ hasText: "no-such-node" }).waitFor();
    expect((await hub.api("GET", "/api/federation/work")).body.packages).toEqual([]);

    await page.getByLabel("Target (any, fleet or a node id)").fill("any");
    workPackageId = await submitted();
    await page.locator(`tr[data-work="${workPackageId}"]`).waitFor();
    await page.locator(`tr[data-work="${workPackageId}"] a`).click();
    await page.getByTestId("work-state").filter({ hasText: "succeeded" }).waitFor({ timeout: 15_000 });
    await page.locator('tr[data-attempt="1"]', { hasText: "succeeded" }).waitFor();
    await page.locator('tr[data-event="succeeded"]').waitFor();
    await expect(page.getByTestId("work-result").textContent()).resolves.toContain('"integrity"');

    await page.goto(`${hub.hub.httpUrl}/#/work`);
    await page.getByLabel("Requires (capabilities, comma separated)").fill("no-node-has-this");
    const stuck = await submitted();
    await page.goto(`${hub.hub.httpUrl}/#/work/${stuck}`);
    await page.getByTestId("work-state").filter({ hasText: "queued" }).waitFor();
    page.removeAllListeners("dialog"); // an earlier test's handler for a dialog that never came
    const confirmation = new Promise<string>((resolve) =>
      page.once("dialog", (dialog) => {
        resolve(dialog.message());
        void dialog.accept();
      }),
    );
    await page.getByRole("button", { name: "Cancel package" }).click();
    expect(await confirmation).toContain(`Cancel work package ${stuck}?`);
    await page.getByTestId("work-state").filter({ hasText: "cancelled" }).waitFor();
    expect((await hub.api("GET", `/api/federation/work/${stuck}`)).body.state).toBe("cancelled");

    // The queue by state, and the filter.
    await page.goto(`${hub.hub.httpUrl}/#/work`);
    await page.getByTestId("work-count-cancelled").filter({ hasText: "1" }).waitFor();
    await page.getByTestId("work-count-succeeded").filter({ hasText: "1" }).waitFor();
    await page.getByRole("search").getByLabel("State").selectOption("cancelled");
    await page.locator(`tr[data-work="${workPackageId}"]`).waitFor({ state: "detached" });
    expect(await page.locator("tr[data-work]").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-state")))).toEqual(["cancelled"]);
  }, 60_000);

  test("a token created on the tokens page is revoked from it only once the confirmation is accepted", async () => {
    await page.goto(`${hub.hub.httpUrl}/#/tokens`);
    await page.getByLabel("Label").fill("revoke-me");
    await page.getByRole("button", { name: "Create token" }).click();
    await page.getByLabel("The new token").waitFor();
    const tokens = async () => (await hub.api("GET", "/api/federation/tokens")).body.tokens as { id: string; label: string; revoked: boolean }[];
    const created = (await tokens()).find((t) => t.label === "revoke-me")!;
    const row = page.locator("tr", { hasText: created.id });
    const answer = (accept: boolean) =>
      new Promise<string>((resolve) =>
        page.once("dialog", (dialog) => {
          resolve(dialog.message());
          void (accept ? dialog.accept() : dialog.dismiss());
        }),
      );

    page.removeAllListeners("dialog");
    const declined = answer(false);
    await row.getByRole("button", { name: `Revoke ${created.id}` }).click();
    expect(await declined).toContain(`Revoke token ${created.id}?`);
    expect((await tokens()).find((t) => t.id === created.id)!.revoked).toBe(false);

    const accepted = answer(true);
    await row.getByRole("button", { name: `Revoke ${created.id}` }).click();
    await accepted;
    await row.getByRole("cell", { name: "revoked", exact: true }).waitFor();
    expect((await tokens()).find((t) => t.id === created.id)!.revoked).toBe(true);
  }, 60_000);

  test("killing an agent turns its row offline without a reload", async () => {
    await page.goto(`${hub.hub.httpUrl}/#/fleet`);
    const killed = agents.at(-1)!;
    const row = page.locator(`tr[data-node="${killed.nodeId}"]`);
    await row.and(page.locator('[data-health="healthy"]')).waitFor();
    // A reload would clear this mark.
    await page.evaluate(() => ((globalThis as { notReloaded?: boolean }).notReloaded = true));
    killed.child.kill("SIGKILL");
    await row.and(page.locator('[data-health="offline"]')).waitFor({ timeout: (OFFLINE_AFTER_S + 10) * 1000 });
    expect(await page.evaluate(() => (globalThis as { notReloaded?: boolean }).notReloaded)).toBe(true);
  }, 60_000);

  test("every page, light and dark: no serious or critical accessibility violation, nothing wider than a phone; screenshots at desktop and phone width", async () => {
    const pages = [
      // `loaded`: what shows once the page's data is in.
      { name: "fleet", hash: "#/fleet", title: "Fleet", loaded: "tr[data-node]" },
      { name: "node", hash: `#/nodes/${NODE_IDS[0]}`, title: `Node ${NODE_IDS[0]}`, loaded: "#registration" },
      { name: "decisions", hash: "#/decisions", title: "Decisions", loaded: "[data-decision]" },
      { name: "federation", hash: "#/federation", title: "Federation", loaded: "#roles ~ .table-wrap tbody tr" },
      { name: "tokens", hash: "#/tokens", title: "Enrollment tokens", loaded: "#list" },
      { name: "work", hash: "#/work", title: "Work", loaded: "tr[data-work]" },
      { name: "work-package", hash: `#/work/${workPackageId}`, title: `Work package ${workPackageId}`, loaded: "tr[data-attempt]" },
    ];
    const found: Record<string, string[]> = {};
    const described = (violations: AxeViolation[]) => violations.map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
    const looks = [
      { look: "desktop", viewport: DESKTOP, colorScheme: "light" },
      { look: "phone", viewport: PHONE, colorScheme: "light" },
      { look: "desktop-dark", viewport: DESKTOP, colorScheme: "dark" },
    ] as const;
    for (const { look: width, viewport, colorScheme } of looks) {
      await page.setViewportSize(viewport);
      await page.emulateMedia({ colorScheme });
      for (const p of pages) {
        await page.goto(`${hub.hub.httpUrl}/${p.hash}`);
        await page.getByRole("heading", { name: p.title, exact: true }).waitFor();
        await page.locator(p.loaded).first().waitFor();
        const violations = await seriousAccessibilityViolations(page);
        if (violations.length) found[`${p.name} (${width})`] = described(violations);
        // Usable on a phone: wide tables scroll inside their box, the page itself never sideways.
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        if (overflow > 0) found[`${p.name} (${width})`] = [...(found[`${p.name} (${width})`] ?? []), `the page is ${overflow} px wider than the screen`];
        await screenshot(page, `${p.name}-${width}`);
      }
    }
    // The login page, signed out.
    const fresh = await browser.newPage({ viewport: PHONE });
    await fresh.goto(hub.hub.httpUrl);
    await fresh.locator("#token").waitFor();
    const loginViolations = await seriousAccessibilityViolations(fresh);
    if (loginViolations.length) found["login"] = described(loginViolations);
    await screenshot(fresh, "login-phone");
    await fresh.close();
    await page.emulateMedia({ colorScheme: "light" });
    await page.setViewportSize(DESKTOP);
    expect(found, JSON.stringify(found, null, 2)).toEqual({});
  }, 60_000);

  test("the watch token gives a read-only view: no admin actions, and a write is refused", async () => {
    const viewer = await browser.newPage({ viewport: DESKTOP });
    await viewer.goto(hub.hub.httpUrl);
    await viewer.fill("#token", hub.watchToken);
    await viewer.click("button[type=submit]");
    await viewer.locator(`tr[data-node="${NODE_IDS[0]}"]`).waitFor();
    expect(await viewer.getByRole("link", { name: "Tokens" }).count()).toBe(0);
    await viewer.goto(`${hub.hub.httpUrl}/#/decisions`);
    await viewer.locator("[data-decision]").first().waitFor();
    expect(await viewer.getByRole("button", { name: "FREEZE fleet" }).count()).toBe(0);
    await viewer.goto(`${hub.hub.httpUrl}/#/work/${workPackageId}`);
    await viewer.locator("tr[data-attempt]").first().waitFor();
    await viewer.goto(`${hub.hub.httpUrl}/#/work`);
    await viewer.locator("tr[data-work]").first().waitFor();
    expect(await viewer.getByRole("button", { name: "Submit", exact: true }).count()).toBe(0);
    const write = await viewer.evaluate(async () => {
      const session = (await (await fetch("/api/session")).json()) as { role: string; csrf_token: string };
      const response = await fetch("/api/federation/mode", { method: "POST", headers: { "content-type": "application/json", "x-csrf-token": session.csrf_token }, body: JSON.stringify({ mode: "PAUSED" }) });
      return { role: session.role, status: response.status, body: await response.json() };
    });
    expect(write).toEqual({ role: "viewer", status: 403, body: expect.objectContaining({ error: "forbidden" }) });
    await viewer.close();
  }, 60_000);

  test("an expired session goes back to the login by itself", async () => {
    const shortHub = await startTestHub({ env: { EDGEFED_SESSION_TTL_S: "2" } });
    const short = await browser.newPage({ viewport: DESKTOP });
    try {
      await short.goto(shortHub.hub.httpUrl);
      await short.fill("#token", shortHub.adminToken);
      await short.click("button[type=submit]");
      await short.getByRole("heading", { name: "Fleet" }).waitFor();
      // A page that fetches nothing by itself: only the stream's end can tell it.
      await short.goto(`${shortHub.hub.httpUrl}/#/federation`);
      await short.getByRole("heading", { name: "Federation" }).waitFor();
      // The hub ends the stream at expiry; the page finds its session gone and shows the login, no click needed.
      await short.locator("#token").waitFor({ timeout: 20_000 });
    } finally {
      await short.close();
      await shortHub.stop();
    }
  }, 60_000);

  test("logout ends the session: the API answers 401 and the page shows the login", async () => {
    await page.goto(`${hub.hub.httpUrl}/#/fleet`);
    await page.getByRole("button", { name: "Log out" }).click();
    await page.locator("#token").waitFor();
    expect(await page.evaluate(async () => (await fetch("/federation/nodes")).status)).toBe(401);
  }, 60_000);
});
