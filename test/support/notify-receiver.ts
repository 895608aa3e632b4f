// A real unix datagram socket playing systemd's notify socket for tests:
// bound with libc through bun:ffi (Bun has no unix datagram sockets), read
// without blocking every few milliseconds, each datagram kept as a string.
import { dlopen, FFIType } from "bun:ffi";
import { closeSync, openSync } from "node:fs";
import { basename, dirname } from "node:path";
import { sockaddrUn } from "../../agent/sd-notify.ts";

const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const MSG_DONTWAIT = 0x40;

const libc = dlopen("libc.so.6", {
  socket: { args: ["i32", "i32", "i32"], returns: "i32" },
  bind: { args: ["i32", "buffer", "u32"], returns: "i32" },
  recv: { args: ["i32", "buffer", "u64", "i32"], returns: FFIType.i64_fast },
  close: { args: ["i32"], returns: "i32" },
}).symbols;

export interface NotifyReceiver {
  /** What NOTIFY_SOCKET should say: the path, or "@name" for an abstract address. */
  readonly address: string;
  /** Every datagram received so far, in order. */
  readonly messages: string[];
  close(): void;
}

export function bindNotifyReceiver(address: string): NotifyReceiver {
  let target = sockaddrUn(address);
  let dirFd: number | null = null;
  if ("problem" in target && address.startsWith("/")) {
    // Too long for sockaddr_un: bind through the directory's fd, as sd-notify.ts sends.
    dirFd = openSync(dirname(address), "r");
    target = sockaddrUn(`/proc/self/fd/${dirFd}/${basename(address)}`);
  }
  if ("problem" in target) throw new Error(`${address}: ${target.problem}`);
  const fd = libc.socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw new Error("socket() failed");
  const bound = libc.bind(fd, target.addr, target.addr.length);
  if (dirFd !== null) closeSync(dirFd);
  if (bound !== 0) {
    libc.close(fd);
    throw new Error(`bind(${address}) failed`);
  }
  const messages: string[] = [];
  const buffer = new Uint8Array(4096);
  const drain = () => {
    for (;;) {
      const n = Number(libc.recv(fd, buffer, buffer.length, MSG_DONTWAIT));
      if (n < 0) return; // EAGAIN: nothing more for now
      messages.push(new TextDecoder().decode(buffer.subarray(0, n)));
    }
  };
  const timer = setInterval(drain, 5);
  return {
    address,
    messages,
    close() {
      clearInterval(timer);
      drain();
      libc.close(fd);
    },
  };
}
