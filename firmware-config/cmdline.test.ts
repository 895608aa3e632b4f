import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { CmdlineError, editCmdline } from "./cmdline.ts";
import { cloudInit } from "./formats/cloud-init.ts";
import { FIRSTRUN_TOKENS, firstrun } from "./formats/firstrun.ts";
import { FIRST_BOOT_FORMATS, type FirstBootFormat } from "./formats/index.ts";

/** Raspberry Pi OS Bookworm's cmdline.txt as it ships. */
const PI_CMDLINE = "console=serial0,115200 console=tty1 root=PARTUUID=4e639091-02 rootfstype=ext4 fsck.repair=yes rootwait quiet splash\n";
const PI_TOKENS = PI_CMDLINE.trim().split(" ");
const ID = "edgefed-pi-01-0123456789ab";

const withCloudInit = (current: string, wifiCountry: string | null = null, instanceId = ID) => editCmdline(current, cloudInit, { instanceId, wifiCountry });
const withFirstrun = (current: string, wifiCountry: string | null = null) => editCmdline(current, firstrun, { instanceId: ID, wifiCountry });
const tokens = (line: string) => line.trim().split(" ");

describe("editCmdline", () => {
  test("cloud-init: the original tokens in order, then ds=nocloud;i=<id> at the end", () => {
    expect(withCloudInit(PI_CMDLINE)).toBe(`${PI_TOKENS.join(" ")} ds=nocloud;i=${ID}\n`);
  });

  test("firstrun: the original tokens in order, then the three firstrun tokens at the end", () => {
    expect(FIRSTRUN_TOKENS).toEqual(["systemd.run=/boot/firstrun.sh", "systemd.run_success_action=reboot", "systemd.unit=kernel-command-line.target"]);
    expect(tokens(withFirstrun(PI_CMDLINE))).toEqual([...PI_TOKENS, ...FIRSTRUN_TOKENS]);
    expect(withFirstrun(PI_CMDLINE).endsWith("systemd.unit=kernel-command-line.target\n")).toBe(true);
  });

  test("a Wi-Fi country adds cfg80211.ieee80211_regdom before the format's tokens", () => {
    expect(tokens(withCloudInit(PI_CMDLINE, "DE"))).toEqual([...PI_TOKENS, "cfg80211.ieee80211_regdom=DE", `ds=nocloud;i=${ID}`]);
    expect(tokens(withFirstrun(PI_CMDLINE, "GB"))).toEqual([...PI_TOKENS, "cfg80211.ieee80211_regdom=GB", ...FIRSTRUN_TOKENS]);
  });

  test("without a Wi-Fi country an existing regulatory domain is left alone", () => {
    const current = "root=/dev/mmcblk0p2 cfg80211.ieee80211_regdom=FR rootwait\n";
    expect(tokens(withCloudInit(current))).toEqual(["root=/dev/mmcblk0p2", "cfg80211.ieee80211_regdom=FR", "rootwait", `ds=nocloud;i=${ID}`]);
  });

  test("an existing regulatory domain is replaced, not duplicated", () => {
    const current = "root=/dev/mmcblk0p2 cfg80211.ieee80211_regdom=FR rootwait cfg80211.ieee80211_regdom=US\n";
    const out = tokens(withCloudInit(current, "DE"));
    expect(out.filter((t) => t.startsWith("cfg80211.ieee80211_regdom="))).toEqual(["cfg80211.ieee80211_regdom=DE"]);
    expect(out).toEqual(["root=/dev/mmcblk0p2", "rootwait", "cfg80211.ieee80211_regdom=DE", `ds=nocloud;i=${ID}`]);
  });

  test("stays one line ending in a single newline, also from CRLF, no final newline and trailing blank lines", () => {
    const expected = `${PI_TOKENS.join(" ")} ds=nocloud;i=${ID}\n`;
    const body = PI_TOKENS.join(" ");
    for (const current of [body, `${body}\n`, `${body}\r\n`, `${body}\n\n\n`, `${body}\r\n\r\n`, `\n${body}\n`, `  ${body}  \n  \n`, `${body}\t\n`]) {
      expect(withCloudInit(current)).toBe(expected);
    }
  });

  test("tokens separated by several spaces or tabs come out separated by one space", () => {
    expect(withFirstrun("root=/dev/sda2\t\trootwait   quiet\n")).toBe(`root=/dev/sda2 rootwait quiet ${FIRSTRUN_TOKENS.join(" ")}\n`);
  });

  test("writing twice in the same format leaves one set of tokens", () => {
    const once = withCloudInit(PI_CMDLINE, "DE");
    expect(withCloudInit(once, "DE")).toBe(once);
    const twice = withFirstrun(withFirstrun(PI_CMDLINE, "DE"), "DE");
    expect(twice).toBe(withFirstrun(PI_CMDLINE, "DE"));
  });

  test("a new instance id replaces the old one", () => {
    const out = withCloudInit(withCloudInit(PI_CMDLINE, null, "edgefed-pi-01-aaaaaaaaaaaa"), null, "edgefed-pi-01-bbbbbbbbbbbb");
    expect(out).toBe(`${PI_TOKENS.join(" ")} ds=nocloud;i=edgefed-pi-01-bbbbbbbbbbbb\n`);
  });

  test("switching from firstrun to cloud-init removes the firstrun tokens", () => {
    const out = withCloudInit(withFirstrun(PI_CMDLINE, "DE"), "DE");
    expect(tokens(out)).toEqual([...PI_TOKENS, "cfg80211.ieee80211_regdom=DE", `ds=nocloud;i=${ID}`]);
    for (const token of FIRSTRUN_TOKENS) expect(out).not.toContain(token);
  });

  test("switching from cloud-init to firstrun removes ds=nocloud", () => {
    const out = withFirstrun(withCloudInit(PI_CMDLINE));
    expect(tokens(out)).toEqual([...PI_TOKENS, ...FIRSTRUN_TOKENS]);
    expect(out).not.toContain("ds=nocloud");
  });

  test("first-boot tokens another tool left (Imager's firstrun, an older ds=nocloud) are replaced", () => {
    const current = "root=/dev/mmcblk0p2 rootwait ds=nocloud-net;s=http://10.0.0.1/ systemd.run=/boot/firmware/firstrun.sh systemd.run_success_action=reboot systemd.unit=kernel-command-line.target\n";
    expect(tokens(withCloudInit(current))).toEqual(["root=/dev/mmcblk0p2", "rootwait", `ds=nocloud;i=${ID}`]);
  });

  test("other systemd.unit= tokens are the operator's and are kept", () => {
    const current = "root=/dev/mmcblk0p2 systemd.unit=rescue.target\n";
    expect(tokens(withFirstrun(current))).toEqual(["root=/dev/mmcblk0p2", "systemd.unit=rescue.target", ...FIRSTRUN_TOKENS]);
  });

  test("an empty or blank cmdline.txt is a CmdlineError", () => {
    for (const current of ["", "\n", "\r\n", "   \n\t\n"]) {
      expect(() => withCloudInit(current)).toThrow(CmdlineError);
      expect(() => withCloudInit(current)).toThrow("empty");
    }
  });

  test("two non-empty lines are a CmdlineError that says how many lines", () => {
    expect(() => withFirstrun("root=/dev/mmcblk0p2 rootwait\nquiet splash\n")).toThrow(CmdlineError);
    expect(() => withFirstrun("root=/dev/mmcblk0p2 rootwait\r\n\r\nquiet splash\r\n")).toThrow("2 lines");
  });
});

describe("editCmdline properties", () => {
  /** A kernel command-line token: printable ASCII without spaces. */
  const token = fc.string({ unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 24 });
  const format = fc.constantFrom<FirstBootFormat>(...FIRST_BOOT_FORMATS);
  const country = fc.option(fc.constantFrom("DE", "GB", "US", "FR", "JP"), { nil: null });
  const instanceId = fc.stringMatching(/^edgefed-[a-z0-9]{1,8}-[0-9a-f]{12}$/);
  const lineEnding = fc.constantFrom("", "\n", "\r\n", "\n\n", "\r\n\r\n\r\n", " \n");
  const isFirstBootToken = (t: string) =>
    t.startsWith("ds=nocloud") || t.startsWith("systemd.run=") || t.startsWith("systemd.run_success_action=") || t === "systemd.unit=kernel-command-line.target";

  test("idempotent: applying it to its own output gives the same output", () => {
    fc.assert(
      fc.property(fc.array(token, { minLength: 1, maxLength: 12 }), lineEnding, format, country, instanceId, (list, ending, fmt, wifiCountry, id) => {
        const once = editCmdline(list.join(" ") + ending, fmt, { instanceId: id, wifiCountry });
        expect(editCmdline(once, fmt, { instanceId: id, wifiCountry })).toBe(once);
      }),
      { numRuns: 500 },
    );
  });

  test("one line, one final newline, the operator's tokens first and in order, the format's tokens last", () => {
    fc.assert(
      fc.property(fc.array(token, { minLength: 1, maxLength: 12 }), lineEnding, format, country, instanceId, (list, ending, fmt, wifiCountry, id) => {
        const out = editCmdline(list.join(" ") + ending, fmt, { instanceId: id, wifiCountry });
        expect(out.endsWith("\n")).toBe(true);
        expect(out.slice(0, -1)).not.toMatch(/[\r\n]/);
        const outTokens = out.slice(0, -1).split(" ");
        expect(outTokens.every((t) => t !== "")).toBe(true);
        const kept = list.filter((t) => !isFirstBootToken(t) && !(wifiCountry && t.startsWith("cfg80211.ieee80211_regdom=")));
        const added = [...(wifiCountry ? [`cfg80211.ieee80211_regdom=${wifiCountry}`] : []), ...(fmt === cloudInit ? [`ds=nocloud;i=${id}`] : FIRSTRUN_TOKENS)];
        expect(outTokens).toEqual([...kept, ...added]);
      }),
      { numRuns: 500 },
    );
  });

  test("switching format leaves exactly the other format's tokens", () => {
    fc.assert(
      fc.property(fc.array(token, { minLength: 1, maxLength: 12 }), format, country, instanceId, (list, fmt, wifiCountry, id) => {
        const other = fmt === cloudInit ? firstrun : cloudInit;
        const switched = editCmdline(editCmdline(list.join(" "), fmt, { instanceId: id, wifiCountry }), other, { instanceId: id, wifiCountry });
        expect(switched).toBe(editCmdline(list.join(" "), other, { instanceId: id, wifiCountry }));
        const outTokens = switched.trim().split(" ");
        expect(outTokens.filter((t) => t.startsWith("ds=nocloud")).length).toBe(other === cloudInit ? 1 : 0);
        expect(outTokens.filter((t) => t.startsWith("systemd.run=")).length).toBe(other === firstrun ? 1 : 0);
      }),
      { numRuns: 300 },
    );
  });
});
