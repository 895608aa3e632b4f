// A real Mosquitto (Debian's /usr/sbin/mosquitto) for tests: its own config in
// a temp dir, a free port on 127.0.0.1, and, with dynsec, the
// dynamic-security plugin with a freshly initialised admin client. No broker
// may outlive the test run, however it ends: an exit handler kills what is
// still running, and a tiny watchdog per broker kills it if this process dies
// without running exit handlers (SIGKILL, a crash).
import type { Subprocess } from "bun";
import { randomBytes } from "node:crypto";
import { closeSync, existsSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { createConnection } from "node:net";
import { connect as connectTls } from "node:tls";
import { mosquittoTlsListener } from "../../hub/tls/mosquitto-listener.ts";
import type { HubTls } from "../../hub/tls/hub-pki.ts";
import { join } from "node:path";
import { freePort, killWithThisProcess, tempDir } from "../helpers.ts";
import { sharedTestTls } from "./test-tls.ts";

export const MOSQUITTO = "/usr/sbin/mosquitto";
export const MOSQUITTO_CTRL = "/usr/bin/mosquitto_ctrl";
export const DYNSEC_PLUGIN = "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so";
/** Largest MQTT packet the broker accepts (whole packet, not just payload); bigger ones get the client disconnected. */
export const MAX_PACKET_SIZE = 256 * 1024;

const READY_TIMEOUT_MS = 5_000;
const STOP_TIMEOUT_MS = 5_000;
const PORT_ATTEMPTS = 5;

export interface RunningMosquitto {
  url: string;
  port: number;
  /** The CA its MQTTS listener's certificate chains to (give it to clients as `ca`); null for a plaintext listener. */
  ca: string | null;
  /** The dynamic-security admin client (null without dynsec). */
  admin: { username: string; password: string } | null;
  /** The directory holding mosquitto.conf (and dynamic-security.json). */
  dir: string;
  /** Mosquitto's log so far (all runs, from <dir>/mosquitto.log), for failure messages. */
  log(): string;
  /** SIGTERM and wait for exit (SIGKILL if it does not exit in time). Idempotent. */
  stop(): Promise<void>;
  /** SIGKILL and wait for exit. Idempotent. */
  kill(): Promise<void>;
  /** SIGHUP: Mosquitto reads its config again, and its TLS listener's certificate files. */
  reload(): void;
  /** Starts it again on the same port with the same config (and dynsec state) after stop() or kill(). */
  restart(): Promise<void>;
}

const live = new Set<Subprocess>();
let exitHandlerInstalled = false;

function installExitHandler(): void {
  if (exitHandlerInstalled) return;
  exitHandlerInstalled = true;
  process.on("exit", () => {
    for (const proc of live) proc.kill("SIGKILL");
  });
}

/**
 * Sends an anonymous MQTT 3.1.1 CONNECT and resolves true on any CONNACK (refused is fine: the broker is speaking MQTT).
 * `clientCertRequired`: the probe has no client certificate, so a handshake refused by a TLS alert is the answer.
 */
function answersMqtt(port: number, timeoutMs: number, tls: boolean, clientCertRequired = false): Promise<boolean> {
  // CONNECT: protocol "MQTT" level 4, clean session, keepalive 60, empty client id.
  const connect = Buffer.from([0x10, 0x0c, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x02, 0x00, 0x3c, 0x00, 0x00]);
  return new Promise((resolve) => {
    // Readiness only: whether the broker speaks MQTT, not whom it is (tests check the certificate themselves).
    const socket = tls ? connectTls({ host: "127.0.0.1", port, rejectUnauthorized: false }) : createConnection({ host: "127.0.0.1", port });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once(tls ? "secureConnect" : "connect", () => socket.write(connect));
    socket.once("data", (data) => done(data[0] === 0x20));
    socket.once("error", (error) => done(clientCertRequired && /alert/i.test(error.message)));
    socket.once("close", () => done(false));
  });
}

/**
 * `extraConfig`: global mosquitto.conf lines (e.g. queue limits for a benchmark).
 * `tls`: the listener speaks MQTTS only, with these files (the hub's, as
 * hub/tls/mosquitto-listener.ts writes them); by default the test run's
 * (test-tls.ts), which every test hub serves too; false: plaintext MQTT;
 * `requireClientCert`: and requires a client certificate from that CA, its CN the user (mutual TLS).
 */
export async function startMosquitto(
  options: { dynsec?: boolean; extraConfig?: string[]; tls?: Pick<HubTls, "ca" | "caFile" | "certFile" | "keyFile"> | false; requireClientCert?: boolean } = {},
): Promise<RunningMosquitto> {
  installExitHandler();
  const tls = options.tls === false ? null : (options.tls ?? sharedTestTls());
  const dir = tempDir("edgefed-mosquitto-");
  const configFile = join(dir, "mosquitto.conf");
  let admin: RunningMosquitto["admin"] = null;
  const dynsecLines: string[] = [];
  if (options.dynsec) {
    admin = { username: "admin", password: randomBytes(12).toString("hex") };
    const dynsecFile = join(dir, "dynamic-security.json");
    // mosquitto_ctrl 2.0.11 takes the admin password as an optional third
    // argument (it prompts only when it is missing), so this needs no terminal.
    const init = Bun.spawnSync([MOSQUITTO_CTRL, "dynsec", "init", dynsecFile, admin.username, admin.password], {
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    });
    if (init.exitCode !== 0) throw new Error(`mosquitto_ctrl dynsec init failed: ${init.stderr.toString()}${init.stdout.toString()}`);
    dynsecLines.push(`plugin ${DYNSEC_PLUGIN}`, `plugin_opt_config_file ${dynsecFile}`);
  }

  let port = 0;
  let proc: Subprocess | null = null;
  let watchdog: Subprocess | null = null;
  const logFile = join(dir, "mosquitto.log");
  const readLog = () => (existsSync(logFile) ? readFileSync(logFile, "utf8") : "");

  function writeConfig(): void {
    const lines = [
      // Global options first: mosquitto 2.0 applies them to every listener.
      // Started as root, mosquitto drops to user "mosquitto", which may not
      // read the temp dir; as anyone else it keeps its user and ignores this.
      ...(process.getuid?.() === 0 ? ["user root"] : []),
      "persistence false",
      `max_packet_size ${MAX_PACKET_SIZE}`,
      ...(options.extraConfig ?? []),
      "log_dest stderr", // which launch() points at mosquitto.log
      "log_type error",
      "log_type warning",
      "log_type notice",
      "log_type information",
      "log_timestamp_format %H:%M:%S",
      ...dynsecLines,
      ...(tls ? mosquittoTlsListener(tls, port, "127.0.0.1", options.requireClientCert) : [`listener ${port} 127.0.0.1`]),
      // Per-listener in 2.0 (per_listener_settings false makes it global anyway).
      `allow_anonymous ${options.dynsec ? "false" : "true"}`,
    ];
    writeFileSync(configFile, lines.join("\n") + "\n");
  }

  /** Spawns mosquitto on `port` and waits until it answers MQTT; throws (with its log) if it exits or times out. */
  async function launch(): Promise<void> {
    // Log to a file rather than a pipe: nothing to drain, nothing keeping this process alive, and it spans restarts.
    const logFd = openSync(logFile, "a");
    const child = Bun.spawn([MOSQUITTO, "-c", configFile], { stdin: "ignore", stdout: logFd, stderr: logFd });
    closeSync(logFd);
    proc = child;
    live.add(child);
    let exited = false;
    void child.exited.then(() => {
      exited = true;
      live.delete(child);
      watchdog?.kill("SIGKILL");
      watchdog = null;
    });
    watchdog = killWithThisProcess(child.pid);
    child.unref();

    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (exited) break;
      if (await answersMqtt(port, 500, tls !== null, options.requireClientCert)) return;
      await Bun.sleep(25);
    }
    if (!exited) {
      child.kill("SIGKILL");
      await child.exited;
    }
    throw new Error(
      `mosquitto did not become ready on 127.0.0.1:${port} (exit code ${child.exitCode ?? "none"}):\n${readLog()}`,
    );
  }

  for (let attempt = 1; ; attempt++) {
    port = await freePort();
    writeConfig();
    try {
      await launch();
      break;
    } catch (error) {
      // Another process took the port between freePort() and mosquitto's bind: pick another.
      const inUse = /address already in use/i.test(String(error));
      if (!inUse || attempt >= PORT_ATTEMPTS) throw error;
    }
  }

  async function terminate(signal: "SIGTERM" | "SIGKILL"): Promise<void> {
    const child = proc;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill(signal);
    const timedOut = await Promise.race([child.exited.then(() => false), Bun.sleep(STOP_TIMEOUT_MS).then(() => true)]);
    if (timedOut) {
      child.kill("SIGKILL");
      await child.exited;
    }
  }

  return {
    url: `${tls ? "mqtts" : "mqtt"}://127.0.0.1:${port}`,
    port,
    ca: tls?.ca ?? null,
    admin,
    dir,
    log: readLog,
    stop: () => terminate("SIGTERM"),
    kill: () => terminate("SIGKILL"),
    reload() {
      const child = proc;
      if (!child || child.exitCode !== null || child.signalCode !== null) throw new Error("mosquitto is not running");
      child.kill("SIGHUP");
    },
    async restart() {
      const child = proc;
      if (child && child.exitCode === null && child.signalCode === null) throw new Error("mosquitto is still running");
      await launch();
    },
  };
}
