// Headless Chromium for the dashboard's tests and bench: Debian's
// /usr/bin/chromium driven by playwright-core (nothing downloads a browser),
// axe-core's accessibility scan, and screenshots kept in test-artifacts/.
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { REPO_ROOT } from "../helpers.ts";
import { testServerSpki } from "./test-tls.ts";

export const CHROMIUM = "/usr/bin/chromium";
export const ARTIFACTS_DIR = join(REPO_ROOT, "test-artifacts", "dashboard");
export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };

/** Why the browser tests cannot run here, or null when they can. */
export function browserMissing(): string | null {
  return existsSync(CHROMIUM) ? null : `${CHROMIUM} is missing (Debian package chromium; .ci/run installs it)`;
}

export function launchChromium(): Promise<Browser> {
  // As root (CI) Chromium refuses to start with its sandbox. Test hubs serve
  // HTTPS with the test run's server key (test-tls.ts): Chromium trusts that
  // one key, pinned by its SPKI hash, and still checks every other certificate
  // (playwright's ignoreHTTPSErrors would accept any).
  const pinned = `--ignore-certificate-errors-spki-list=${testServerSpki()}`;
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox", "--disable-dev-shm-usage", pinned] });
}

const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[] }[];
}

/**
 * axe-core's serious and critical violations on the page as it is. Injected
 * through the DevTools protocol (page.evaluate), which the page's CSP does not
 * govern, so the page under test keeps its real CSP.
 */
export async function seriousAccessibilityViolations(page: Page): Promise<AxeViolation[]> {
  await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run(context: Document, options: object): Promise<{ violations: AxeViolation[] }> } }).axe;
    const result = await axe.run(document, { resultTypes: ["violations"] });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => ({ target: n.target })) }));
  });
  return violations.filter((v) => v.impact === "serious" || v.impact === "critical");
}

/** Saves a full-page screenshot as test-artifacts/dashboard/<name>.png and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS_DIR, { recursive: true });
  const path = join(ARTIFACTS_DIR, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}
