// systemd's notify protocol (sd_notify(3)), spoken only when systemd asks for
// it by setting NOTIFY_SOCKET (Type=notify units): READY=1 once the agent is
// up, WATCHDOG=1 every WATCHDOG_USEC/2 while the agent says it is healthy,
// STOPPING=1 when it begins to stop. Without NOTIFY_SOCKET every call here is
// a no-op.
//
// Bun has no unix datagram sockets, so the datagram goes out through libc
// with bun:ffi: socket(AF_UNIX, SOCK_DGRAM|SOCK_CLOEXEC|SOCK_NONBLOCK) and
// sendto() with a sockaddr_un. Non-blocking, so a stalled systemd can never
// stall the agent's event loop (a dropped ping is logged, and the next one
// follows half a watchdog period before systemd would act). Nothing here
// throws into the agent: a failure is logged once and notifying stops being
// attempted only when it cannot work at all (no libc, unusable address).
import { closeSync, openSync } from "node:fs";
import { basename, dirname } from "node:path";

const AF_UNIX = 1;
// Linux values, the same on x86-64 and arm64 (asm-generic): O_NONBLOCK, O_CLOEXEC.
const SOCK_DGRAM = 2;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const MSG_NOSIGNAL = 0x4000;
/** sizeof(struct sockaddr_un): sa_family_t (2 bytes) + sun_path[108]. */
const SUN_PATH_MAX = 108;
const SUN_PATH_OFFSET = 2;

export interface SdNotifyOptions {
  env?: Record<string, string | undefined>;
  pid?: number;
  log(line: string): void;
}

export interface SdNotify {
  /** NOTIFY_SOCKET is set and usable. */
  readonly enabled: boolean;
  /** Half of WATCHDOG_USEC, in ms, when the watchdog is on and meant for this process; else null. */
  readonly watchdogIntervalMs: number | null;
  /** Sends one notification (newline-separated assignments); false if not sent. Never throws. */
  notify(state: string): boolean;
  ready(status?: string): void;
  stopping(): void;
  /** WATCHDOG=1 every watchdogIntervalMs, but only when `healthy()` is true (a throw counts as false). */
  startWatchdog(healthy: () => boolean): void;
  close(): void;
}

/** The sockaddr_un bytes for a NOTIFY_SOCKET value ("@name": abstract, leading NUL), or why there are none. */
export function sockaddrUn(address: string): { addr: Uint8Array } | { problem: string } {
  let path: Uint8Array;
  if (address.startsWith("@")) {
    const name = new TextEncoder().encode(address.slice(1));
    path = new Uint8Array(1 + name.length); // [0, ...name]: no terminating NUL, the length says where it ends
    path.set(name, 1);
  } else if (address.startsWith("/")) {
    const name = new TextEncoder().encode(address);
    if (name.includes(0)) return { problem: "contains a NUL byte" };
    path = new Uint8Array(name.length + 1); // NUL-terminated
    path.set(name);
  } else {
    return { problem: "neither an absolute path nor an abstract @name (vsock and other forms are not supported)" };
  }
  if (path.length > SUN_PATH_MAX) return { problem: `longer than the ${SUN_PATH_MAX} bytes a unix socket address holds` };
  const addr = new Uint8Array(SUN_PATH_OFFSET + path.length);
  new DataView(addr.buffer).setUint16(0, AF_UNIX, true); // sa_family_t, host order (little-endian on x86-64 and arm64)
  addr.set(path, SUN_PATH_OFFSET);
  return { addr };
}

interface Libc {
  socket(domain: number, type: number, protocol: number): number;
  sendto(fd: number, buf: Uint8Array, len: number, flags: number, addr: Uint8Array, addrlen: number): number | bigint;
  close(fd: number): number;
  errno(): number;
}

async function loadLibc(): Promise<Libc> {
  const ffi = await import("bun:ffi");
  const { symbols } = ffi.dlopen("libc.so.6", {
    socket: { args: ["i32", "i32", "i32"], returns: "i32" },
    sendto: { args: ["i32", "buffer", "u64", "i32", "buffer", "u32"], returns: ffi.FFIType.i64_fast },
    close: { args: ["i32"], returns: "i32" },
    __errno_location: { args: [], returns: "ptr" },
  });
  return {
    socket: (domain, type, protocol) => symbols.socket(domain, type, protocol),
    sendto: (fd, buf, len, flags, addr, addrlen) => symbols.sendto(fd, buf, len, flags, addr, addrlen),
    close: (fd) => symbols.close(fd),
    errno: () => {
      const at = symbols.__errno_location();
      return at ? ffi.read.i32(at, 0) : 0;
    },
  };
}

const ERRNO_NAMES: Record<number, string> = { 1: "EPERM", 2: "ENOENT", 11: "EAGAIN", 13: "EACCES", 22: "EINVAL", 36: "ENAMETOOLONG", 97: "EAFNOSUPPORT", 111: "ECONNREFUSED" };
const errnoName = (errno: number) => ERRNO_NAMES[errno] ?? `errno ${errno}`;

const DISABLED: SdNotify = {
  enabled: false,
  watchdogIntervalMs: null,
  notify: () => false,
  ready() {},
  stopping() {},
  startWatchdog() {},
  close() {},
};

/** Half of WATCHDOG_USEC in ms, or null when the watchdog is off or WATCHDOG_PID names another process. */
export function watchdogIntervalMs(env: Record<string, string | undefined>, pid: number): number | null {
  const usec = env.WATCHDOG_USEC;
  if (!usec || !/^\d+$/.test(usec) || Number(usec) <= 0) return null;
  const owner = env.WATCHDOG_PID;
  if (owner !== undefined && owner !== "" && owner !== String(pid)) return null;
  return Math.max(1, Math.floor(Number(usec) / 2000));
}

/**
 * The notifier for this process: a no-op unless NOTIFY_SOCKET is set. A path
 * too long for sockaddr_un is reached through /proc/self/fd/<dir fd>/<name>.
 */
export async function openSdNotify(options: SdNotifyOptions): Promise<SdNotify> {
  const env = options.env ?? process.env;
  const pid = options.pid ?? process.pid;
  const address = env.NOTIFY_SOCKET;
  if (!address) return DISABLED;
  const say = (line: string) => options.log(`sd_notify: ${line}`);

  let dirFd: number | null = null;
  let target = sockaddrUn(address);
  if ("problem" in target && address.startsWith("/")) {
    try {
      dirFd = openSync(dirname(address), "r");
      target = sockaddrUn(`/proc/self/fd/${dirFd}/${basename(address)}`);
    } catch (error) {
      target = { problem: `too long, and its directory cannot be opened: ${(error as Error).message}` };
    }
  }
  if ("problem" in target) {
    say(`NOTIFY_SOCKET=${address}: ${target.problem}; not notifying systemd`);
    if (dirFd !== null) closeSync(dirFd);
    return DISABLED;
  }
  const addr = target.addr;

  let libc: Libc;
  try {
    libc = await loadLibc();
  } catch (error) {
    say(`cannot call libc through bun:ffi (${(error as Error).message}); not notifying systemd`);
    if (dirFd !== null) closeSync(dirFd);
    return DISABLED;
  }

  let fd = -1;
  let failing = false; // log the first failure of a run of failures, and the recovery
  let timer: ReturnType<typeof setInterval> | null = null;
  let unhealthy = false;
  const interval = watchdogIntervalMs(env, pid);

  const notify = (state: string): boolean => {
    try {
      if (fd < 0) {
        fd = libc.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0) throw new Error(`socket(): ${errnoName(libc.errno())}`);
      }
      const message = new TextEncoder().encode(state);
      const sent = Number(libc.sendto(fd, message, message.length, MSG_NOSIGNAL, addr, addr.length));
      if (sent !== message.length) throw new Error(`sendto(${address}): ${sent < 0 ? errnoName(libc.errno()) : `${sent} of ${message.length} bytes`}`);
      if (failing) say("sending works again");
      failing = false;
      return true;
    } catch (error) {
      if (!failing) say(`${JSON.stringify(state.split("\n")[0])} not sent: ${(error as Error).message} (further failures are not logged)`);
      failing = true;
      return false;
    }
  };

  return {
    enabled: true,
    watchdogIntervalMs: interval,
    notify,
    ready(status) {
      notify(status ? `READY=1\nSTATUS=${status}` : "READY=1");
    },
    stopping() {
      if (timer) clearInterval(timer);
      timer = null;
      notify("STOPPING=1");
    },
    startWatchdog(healthy) {
      if (interval === null || timer) return;
      timer = setInterval(() => {
        let ok = false;
        let why = "";
        try {
          ok = healthy();
        } catch (error) {
          why = `: ${(error as Error).message}`;
        }
        if (ok) {
          if (unhealthy) say("healthy again: watchdog pings resume");
          unhealthy = false;
          notify("WATCHDOG=1");
        } else if (!unhealthy) {
          unhealthy = true;
          say(`not healthy${why}: withholding the watchdog ping (systemd restarts the agent if this lasts)`);
        }
      }, interval);
    },
    close() {
      if (timer) clearInterval(timer);
      timer = null;
      if (fd >= 0) libc.close(fd);
      fd = -1;
      if (dirFd !== null) closeSync(dirFd);
      dirFd = null;
    },
  };
}
