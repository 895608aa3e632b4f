// The sd_notify client against a real unix datagram socket (bound through
// libc, as systemd's would be): address encoding, the watchdog interval and
// WATCHDOG_PID, pings withheld while unhealthy, and failures that never throw.
import { afterAll, afterEach, expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { removeTempDirs, tempDir } from "../test/helpers.ts";
import { eventually } from "../test/support/hub-harness.ts";
import { bindNotifyReceiver, type NotifyReceiver } from "../test/support/notify-receiver.ts";
import { openSdNotify, sockaddrUn, watchdogIntervalMs, type SdNotify } from "./sd-notify.ts";

const open: (NotifyReceiver | SdNotify)[] = [];
afterEach(() => {
  for (const thing of open.splice(0)) thing.close();
});
afterAll(removeTempDirs);

function receiver(address = join(tempDir("edgefed-sdn-"), "notify.sock")): NotifyReceiver {
  const r = bindNotifyReceiver(address);
  open.push(r);
  return r;
}

async function notifier(env: Record<string, string>, logs: string[] = []): Promise<SdNotify> {
  const n = await openSdNotify({ env, log: (line) => logs.push(line) });
  open.push(n);
  return n;
}

test("sockaddr_un: a path is NUL-terminated, an @name is abstract (leading NUL, no terminator), others are refused", () => {
  const path = sockaddrUn("/run/systemd/notify");
  if (!("addr" in path)) throw new Error(path.problem);
  expect([...path.addr.subarray(0, 2)]).toEqual([1, 0]); // AF_UNIX, little-endian sa_family_t
  expect(new TextDecoder().decode(path.addr.subarray(2))).toBe("/run/systemd/notify\0");
  const abstract = sockaddrUn("@edgefed/notify");
  if (!("addr" in abstract)) throw new Error(abstract.problem);
  expect(new TextDecoder().decode(abstract.addr.subarray(2))).toBe("\0edgefed/notify");
  expect(sockaddrUn(`/${"x".repeat(106)}`)).toHaveProperty("addr"); // 107 bytes + NUL = sun_path's 108
  expect(sockaddrUn(`/${"x".repeat(107)}`)).toHaveProperty("problem");
  expect(sockaddrUn(`@${"x".repeat(107)}`)).toHaveProperty("addr");
  expect(sockaddrUn(`@${"x".repeat(108)}`)).toHaveProperty("problem");
  expect(sockaddrUn("relative/notify")).toHaveProperty("problem");
  expect(sockaddrUn("vsock:2:1234")).toHaveProperty("problem");
});

test("the watchdog interval is half of WATCHDOG_USEC, and off when WATCHDOG_PID names another process", () => {
  expect(watchdogIntervalMs({}, 42)).toBeNull();
  expect(watchdogIntervalMs({ WATCHDOG_USEC: "30000000" }, 42)).toBe(15_000);
  expect(watchdogIntervalMs({ WATCHDOG_USEC: "30000000", WATCHDOG_PID: "42" }, 42)).toBe(15_000);
  expect(watchdogIntervalMs({ WATCHDOG_USEC: "30000000", WATCHDOG_PID: "43" }, 42)).toBeNull();
  for (const bad of ["0", "", "-5", "1e6", "soon"]) expect(watchdogIntervalMs({ WATCHDOG_USEC: bad }, 42)).toBeNull();
});

test("without NOTIFY_SOCKET everything is a no-op and nothing is logged", async () => {
  const logs: string[] = [];
  const n = await notifier({ WATCHDOG_USEC: "100000" }, logs);
  expect(n.enabled).toBe(false);
  expect(n.notify("READY=1")).toBe(false);
  n.ready();
  n.startWatchdog(() => true);
  n.stopping();
  expect(logs).toEqual([]);
});

test.each([
  ["a path", () => join(tempDir("edgefed-sdn-"), "notify.sock")],
  ["an abstract address", () => `@edgefed-test-${process.pid}-${Math.random().toString(36).slice(2)}`],
  ["a path too long for sockaddr_un (sent through /proc/self/fd)", () => {
    const dir = join(tempDir("edgefed-sdn-"), "d".repeat(60), "e".repeat(60));
    mkdirSync(dir, { recursive: true });
    return join(dir, "notify.sock");
  }],
])("notifications reach a real datagram socket at %s", async (_, address) => {
  const r = receiver(address());
  const n = await notifier({ NOTIFY_SOCKET: r.address });
  expect(n.enabled).toBe(true);
  n.ready("up");
  expect(n.notify("WATCHDOG=1")).toBe(true);
  n.stopping();
  await eventually(() => r.messages.length === 3, 2000, "three datagrams");
  expect(r.messages).toEqual(["READY=1\nSTATUS=up", "WATCHDOG=1", "STOPPING=1"]);
});

test("a socket nobody listens on: sends report false, never throw, and the failure is logged once", async () => {
  const logs: string[] = [];
  const n = await notifier({ NOTIFY_SOCKET: join(tempDir("edgefed-sdn-"), "absent.sock") }, logs);
  expect(n.notify("READY=1")).toBe(false);
  expect(n.notify("WATCHDOG=1")).toBe(false);
  n.stopping();
  expect(logs).toHaveLength(1);
  expect(logs[0]).toContain("ENOENT");
});

test("an unusable NOTIFY_SOCKET is reported once and notifying is off", async () => {
  const logs: string[] = [];
  const n = await notifier({ NOTIFY_SOCKET: "vsock:2:999" }, logs);
  expect(n.enabled).toBe(false);
  expect(n.notify("READY=1")).toBe(false);
  expect(logs).toHaveLength(1);
});

test("the watchdog pings every WATCHDOG_USEC/2 only while healthy, and stops at STOPPING=1", async () => {
  const r = receiver();
  const logs: string[] = [];
  const n = await notifier({ NOTIFY_SOCKET: r.address, WATCHDOG_USEC: "40000" }, logs); // a ping every 20 ms
  expect(n.watchdogIntervalMs).toBe(20);
  let health: "ok" | "bad" | "throws" = "ok";
  n.startWatchdog(() => {
    if (health === "throws") throw new Error("database is locked");
    return health === "ok";
  });
  const pings = () => r.messages.filter((m) => m === "WATCHDOG=1").length;
  await eventually(() => pings() >= 3, 2000, "pings while healthy");
  for (const state of ["bad", "throws"] as const) {
    health = state;
    await Bun.sleep(60); // let a ping already in the socket be read
    const before = pings();
    await Bun.sleep(150);
    expect(pings()).toBe(before);
    health = "ok";
    await eventually(() => pings() > before, 2000, "pings again once healthy");
  }
  expect(logs.filter((l) => l.includes("not healthy"))).toHaveLength(2);
  expect(logs.some((l) => l.includes("database is locked"))).toBe(true);
  n.stopping();
  await eventually(() => r.messages.at(-1) === "STOPPING=1", 2000, "STOPPING=1");
  const after = r.messages.length;
  await Bun.sleep(100);
  expect(r.messages.length).toBe(after);
});
