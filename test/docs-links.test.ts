// Every relative link in README.md and docs/*.md must lead somewhere: the file
// exists inside the repository, and an anchor names a heading of the target
// markdown file (GitHub's heading ids). Moving a section or renaming a heading
// without fixing its links fails here, not in a reader's browser.
import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "..");
const DOC_FILES = ["README.md", ...readdirSync(join(ROOT, "docs")).filter((name) => name.endsWith(".md")).map((name) => `docs/${name}`)];

interface ParsedMarkdown {
  headingIds: Set<string>;
  links: string[];
}

/**
 * GitHub's heading id: lowercase, punctuation other than `-` and `_` dropped,
 * each space a dash; a repeated id gets -1, -2, ... (as github-slugger does).
 */
function githubHeadingId(text: string, seen: Map<string, number>): string {
  const base = text
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, "")
    .replace(/ /g, "-");
  const count = seen.get(base) ?? 0;
  seen.set(base, count + 1);
  return count === 0 ? base : `${base}-${count}`;
}

const parsed = new Map<string, ParsedMarkdown>();

/** Headings and link targets as a markdown parser sees them (so code spans and blocks are not links). */
function parseMarkdown(file: string): ParsedMarkdown {
  const known = parsed.get(file);
  if (known) return known;
  const seen = new Map<string, number>();
  const result: ParsedMarkdown = { headingIds: new Set(), links: [] };
  Bun.markdown.render(readFileSync(file, "utf8"), {
    heading: (children) => {
      result.headingIds.add(githubHeadingId(children, seen));
      return "";
    },
    link: (children, meta) => {
      result.links.push(meta.href);
      return children;
    },
  });
  parsed.set(file, result);
  return result;
}

/** What is wrong with one link of `file`, or null when it resolves. */
function brokenLink(file: string, href: string): string | null {
  if (/^[a-z][a-z0-9+.-]*:/i.test(href)) return null; // http:, https:, mailto: ... are not ours to check
  const hash = href.indexOf("#");
  const path = decodeURIComponent(hash === -1 ? href : href.slice(0, hash));
  const anchor = hash === -1 ? null : decodeURIComponent(href.slice(hash + 1));
  const target = path === "" ? file : resolve(dirname(file), path);
  if (relative(ROOT, target).startsWith("..")) return "leads out of the repository (it must explain itself)";
  if (!existsSync(target)) return `${relative(ROOT, target)} does not exist`;
  if (anchor === null) return null;
  if (!target.endsWith(".md") || statSync(target).isDirectory()) return "an anchor on a file that is not markdown cannot be checked";
  if (!parseMarkdown(target).headingIds.has(anchor)) return `${relative(ROOT, target)} has no heading #${anchor}`;
  return null;
}

describe("relative links in the docs resolve", () => {
  for (const name of DOC_FILES) {
    test(name, () => {
      const file = join(ROOT, name);
      const broken = parseMarkdown(file)
        .links.map((href) => ({ href, problem: brokenLink(file, href) }))
        .filter((link) => link.problem !== null)
        .map((link) => `${link.href}: ${link.problem}`);
      expect(broken).toEqual([]);
    });
  }
});

describe("githubHeadingId", () => {
  test("drops punctuation but keeps dashes and underscores, as GitHub does", () => {
    const seen = new Map<string, number>();
    expect(githubHeadingId("Gates and the config contract (core_gates.env)", seen)).toBe("gates-and-the-config-contract-core_gatesenv");
    expect(githubHeadingId("MQTT, ACLs and ingest", seen)).toBe("mqtt-acls-and-ingest");
    expect(githubHeadingId("Type=notify and the watchdog", seen)).toBe("typenotify-and-the-watchdog");
  });

  test("numbers a repeated heading", () => {
    const seen = new Map<string, number>();
    expect([githubHeadingId("Hub", seen), githubHeadingId("Hub", seen), githubHeadingId("Hub", seen)]).toEqual(["hub", "hub-1", "hub-2"]);
  });
});
