// Whatever an operator gives as a Wi-Fi SSID or has as an SSH key comment,
// flash either refuses it with a message naming the option, or writes a
// user-data and network-config that read back as exactly what was given:
// with js-yaml, with PyYAML (cloud-init's reader) for every run, and through
// cloud-init itself for a bounded number of runs (each call takes ~0.3 s).
import { afterAll, describe, expect, test } from "bun:test";
import fc from "fast-check";
import { load } from "js-yaml";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { removeTempDirs, tempDir } from "../../test/helpers.ts";
import { cloudInitNetplan, cloudInitSchema, pyYamlLoad } from "../../test/support/cloud-init.ts";
import { fakeArm64Binary, PI_CMDLINE } from "../../test/support/pi-image.ts";
import { openBootPartition } from "../boot-partition.ts";
import { wpaPsk } from "../first-boot-files.ts";
import { planFlash } from "../flash.ts";
import { FlashOptionsError, parseFlashArgs } from "../flash-options.ts";

afterAll(removeTempDirs);

const dir = tempDir("edgefed-unicode-");
const agent = fakeArm64Binary(dir, 4096);
const boot = join(dir, "boot");
mkdirSync(boot);
writeFileSync(join(boot, "cmdline.txt"), PI_CMDLINE);
const partition = openBootPartition(boot, { staging: true });
const PASSPHRASE = "password123";
const KEY_START = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ9k6CIiVf1rOJqB7s7p2m1DTZQz0t5x3X1m1H0f2Q7d";

/** C0 controls and DEL: the characters flash refuses in an SSID and in a key line. */
const C0_CONTROL = /[\x00-\x1f\x7f]/;
const char = (min: number, max: number) => fc.integer({ min, max }).map((code) => String.fromCodePoint(code));
/** One character: any code point but half surrogates, with C0, C1 and what YAML or a shell reads specially drawn often. */
const unit = fc.oneof(
  fc.string({ unit: "binary", minLength: 1, maxLength: 1 }),
  char(0x00, 0x1f),
  char(0x80, 0x9f),
  fc.constantFrom('"', "'", ":", "#", " ", "\\", "-", "?", "&", "*", "!", "|", ">", "%", "@", "`", "{", "}", "[", "]", ",", "\x7f", "\u0085", "\u00a0", "\u2028", "\u2029", "\ufeff", "\ufffe", "\uffff"),
);
/** Whole values YAML 1.1 would read as something other than a string, or as structure, if written bare. */
const yamlLookalike = fc.constantFrom("on", "yes", "No", "1_000", "1:20", "0x1F", "null", "~", "<<", "=", "2001-12-14", "- x", "? x", "a: b", "#x", "__proto__", " lead", "trail ", "'q'", '"d"');
const ssidArb = fc.oneof(fc.string({ unit, maxLength: 12 }), yamlLookalike);
// A key file holds one line: a line break in a "comment" would make it two lines, which the multi-line key test covers.
const commentArb = fc.oneof(fc.string({ unit, maxLength: 16 }), yamlLookalike).filter((comment) => !comment.includes("\n"));

/** The key line flash reads from a key file holding `comment`: surrounding white space is not part of it. */
const keyLine = (comment: string) => `${KEY_START} ${comment}`.trim();
const ssidAccepted = (ssid: string) => ssid !== "" && Buffer.byteLength(ssid) <= 32 && !C0_CONTROL.test(ssid);
const commentAccepted = (comment: string) => !C0_CONTROL.test(keyLine(comment));

type Flashed = { refused: string[] } | { userData: string; networkConfig: string };

/** flash's own option parser and planner, for a staging directory: what it refuses, or the files it would write. */
function flash(ssid: string, comment: string): Flashed {
  const keyFile = join(dir, "admin.pub");
  writeFileSync(keyFile, `${KEY_START} ${comment}\n`);
  const argv = ["--boot", boot, "--staging", "--format", "cloud-init", "--node-id", "pi-01", "--hub", "http://hub.lan:8080", "--enroll-token", "enroll-token-0123", "--agent", agent];
  // --option=value: a value starting with - would otherwise be taken for an option.
  argv.push(`--wifi-ssid=${ssid}`, "--wifi-psk", PASSPHRASE, "--wifi-country", "GB", "--ssh-key", keyFile);
  let request: ReturnType<typeof parseFlashArgs>;
  try {
    request = parseFlashArgs(argv, {});
  } catch (error) {
    if (error instanceof FlashOptionsError) return { refused: error.problems };
    throw error;
  }
  if (request === "help" || request.kind !== "single") throw new Error("expected a single-card request");
  const files = new Map(planFlash(partition, request.node, request.common).files.map((f) => [f.path, String(f.content)]));
  return { userData: files.get("user-data")!, networkConfig: files.get("network-config")! };
}

interface Written {
  users: { ssh_authorized_keys: string[] }[];
}
interface Network {
  network: { wifis: { wlan0: { "access-points": Record<string, { password: string }> } } };
}
const keysOf = (userData: unknown) => (userData as Written).users[0]!.ssh_authorized_keys;
const accessPointsOf = (networkConfig: unknown) => (networkConfig as Network).network.wifis.wlan0["access-points"];

describe("SSIDs and SSH key comments of random Unicode", () => {
  test("are refused, naming the option, exactly when they hold C0 controls (or an SSID is empty or over 32 bytes); else read back as given", () => {
    const written: { ssid: string; key: string; userData: string; networkConfig: string }[] = [];
    fc.assert(
      fc.property(ssidArb, commentArb, (ssid, comment) => {
        const result = flash(ssid, comment);
        const refusedFor = [...(ssidAccepted(ssid) ? [] : ["--wifi-ssid"]), ...(commentAccepted(comment) ? [] : ["--ssh-key"])];
        if ("refused" in result) {
          expect(refusedFor).not.toEqual([]);
          for (const option of refusedFor) expect(result.refused.some((line) => line.includes(option))).toBe(true);
          if (refusedFor.includes("--ssh-key")) expect(result.refused.join("\n")).toMatch(/--ssh-key .*: the key line holds the control character U\+(00[01][0-9A-F]|007F)/);
          return;
        }
        expect(refusedFor).toEqual([]);
        expect(result.userData.startsWith("#cloud-config\n# written by edgefed flash for node pi-01")).toBe(true);
        expect(keysOf(load(result.userData))).toEqual([keyLine(comment)]);
        expect(accessPointsOf(load(result.networkConfig))).toEqual({ [ssid]: { password: wpaPsk({ ssid, passphrase: PASSPHRASE, country: "GB" }) } });
        written.push({ ssid, key: keyLine(comment), ...result });
      }),
      { numRuns: 400 },
    );
    expect(written.length).toBeGreaterThan(100); // most runs are written, not refused

    // The same files through PyYAML, the reader cloud-init uses on the Pi: one python3 run for all of them.
    const parsed = pyYamlLoad(written.flatMap((w) => [w.userData, w.networkConfig]));
    written.forEach(({ ssid, key, userData, networkConfig }, i) => {
      const [user, network] = [parsed[2 * i]!, parsed[2 * i + 1]!];
      if ("error" in user || "error" in network) throw new Error(`PyYAML refused:\n${userData}\n${networkConfig}\n${"error" in user ? user.error : ""}${"error" in network ? network.error : ""}`);
      expect({ ssid, key: keysOf(user.value) }).toEqual({ ssid, key: [key] });
      expect({ key, ssids: Object.keys(accessPointsOf(network.value)) }).toEqual({ key, ssids: [ssid] });
    });
  });

  test("that flash writes pass cloud-init's schema check, and cloud-init reads the network-config into netplan with the SSID", () => {
    fc.assert(
      fc.property(ssidArb.filter(ssidAccepted), commentArb.filter(commentAccepted), (ssid, comment) => {
        const result = flash(ssid, comment);
        if ("refused" in result) throw new Error(`refused: ${result.refused.join("; ")}`);
        const schema = cloudInitSchema(result.userData);
        expect(schema.output).toContain("Valid cloud-config");
        expect(schema.status).toBe(0);
        const converted = cloudInitNetplan(result.networkConfig);
        if ("problem" in converted) throw new Error(`cloud-init refused network-config:\n${result.networkConfig}\n${converted.problem}`);
        const [netplan] = pyYamlLoad([converted.netplan]);
        expect(netplan && "value" in netplan && Object.keys(accessPointsOf(netplan.value))).toEqual([ssid]);
      }),
      { numRuns: 25 },
    );
  }, 60_000);
});
