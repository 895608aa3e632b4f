// Tests for the hub settings (settings.ts): defaults, the environment, flags
// winning over it, errors that name the setting, secrets masked in the log.
import { describe, expect, test } from "bun:test";
import { hostname } from "node:os";
import { UsageError } from "../lib/command-line.ts";
import { describeSettings, hubHelp, parseHubSettings, type HubSettings } from "./settings.ts";

const DEFAULTS: HubSettings = {
  dataDir: "./data/hub",
  databaseUrl: "",
  hubId: hostname(),
  sharedSubscriptions: false,
  httpHost: "0.0.0.0",
  httpPort: 8080,
  mqttUrl: "",
  brokerAuth: "dynsec",
  mqttHost: "0.0.0.0",
  mqttPort: 1883,
  mqttUsername: "",
  mqttPassword: "",
  publicMqttUrl: "",
  adminToken: "",
  watchToken: "",
  metricsToken: "",
  metricsPerNode: false,
  heartbeatS: 15,
  offlineAfterS: 150,
  degradedLoad: 4,
  maxBodyBytes: 65536,
  flushMs: 1000,
  sweepMs: 1000,
  federationConfig: "",
  alertWebhookUrl: "",
  alertWebhookPerMinute: 20,
  alertDedupS: 600,
  alertWebhookTimeoutMs: 5000,
  alertWebhookRetryMs: 1000,
  decisionPendingAlertS: 300,
  registerBurst: 1000,
  registerPerS: 10,
  loginBurst: 10,
  loginPerS: 0.1,
  adminBurst: 600,
  adminPerS: 100,
  mqttPublishBurst: 100000,
  mqttPublishPerS: 1000,
  trustedProxies: [],
  sessionTtlS: 43200,
  tls: true,
  allowPlaintext: false,
  mqttsPort: 8883,
  tlsSans: [],
  tlsCert: "",
  tlsKey: "",
  tlsCa: "",
  requireClientCert: false,
};

const ALL_ENV_VARS = [
  "EDGEFED_DATA_DIR",
  "EDGEFED_DATABASE_URL",
  "EDGEFED_HUB_ID",
  "EDGEFED_SHARED_SUBSCRIPTIONS",
  "EDGEFED_HTTP_HOST",
  "EDGEFED_HTTP_PORT",
  "EDGEFED_MQTT_URL",
  "EDGEFED_BROKER_AUTH",
  "EDGEFED_MQTT_HOST",
  "EDGEFED_MQTT_PORT",
  "EDGEFED_MQTT_USERNAME",
  "EDGEFED_MQTT_PASSWORD",
  "EDGEFED_PUBLIC_MQTT_URL",
  "EDGEFED_ADMIN_TOKEN",
  "EDGEFED_WATCH_TOKEN",
  "EDGEFED_METRICS_TOKEN",
  "EDGEFED_METRICS_PER_NODE",
  "EDGEFED_HEARTBEAT_S",
  "EDGEFED_OFFLINE_AFTER_S",
  "EDGEFED_DEGRADED_LOAD",
  "EDGEFED_MAX_BODY_BYTES",
  "EDGEFED_FLUSH_MS",
  "EDGEFED_SWEEP_MS",
  "EDGEFED_FEDERATION_CONFIG",
  "EDGEFED_ALERT_WEBHOOK_URL",
  "EDGEFED_ALERT_WEBHOOK_PER_MINUTE",
  "EDGEFED_ALERT_DEDUP_S",
  "EDGEFED_ALERT_WEBHOOK_TIMEOUT_MS",
  "EDGEFED_ALERT_WEBHOOK_RETRY_MS",
  "EDGEFED_DECISION_PENDING_ALERT_S",
  "EDGEFED_RATE_REGISTER_BURST",
  "EDGEFED_RATE_REGISTER_PER_S",
  "EDGEFED_RATE_LOGIN_BURST",
  "EDGEFED_RATE_LOGIN_PER_S",
  "EDGEFED_RATE_ADMIN_BURST",
  "EDGEFED_RATE_ADMIN_PER_S",
  "EDGEFED_RATE_MQTT_PUBLISH_BURST",
  "EDGEFED_RATE_MQTT_PUBLISH_PER_S",
  "EDGEFED_TRUSTED_PROXIES",
  "EDGEFED_SESSION_TTL_S",
  "EDGEFED_TLS",
  "EDGEFED_ALLOW_PLAINTEXT",
  "EDGEFED_MQTTS_PORT",
  "EDGEFED_TLS_SANS",
  "EDGEFED_TLS_CERT",
  "EDGEFED_TLS_KEY",
  "EDGEFED_TLS_CA",
  "EDGEFED_REQUIRE_CLIENT_CERT",
];

/** The UsageError message parseHubSettings throws; fails the test if it does not throw one. */
function settingsError(args: string[], env: Record<string, string | undefined> = {}): string {
  try {
    parseHubSettings(args, env);
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return (error as Error).message;
  }
  throw new Error(`parseHubSettings(${JSON.stringify(args)}, ${JSON.stringify(env)}) did not throw`);
}

describe("parseHubSettings", () => {
  test("defaults with no flags and an empty environment", () => {
    expect(parseHubSettings([], {})).toEqual(DEFAULTS);
  });

  test("ignores unrelated environment variables", () => {
    expect(parseHubSettings([], { PATH: "/usr/bin", EDGEFED_UNKNOWN: "x", HOME: "/root" })).toEqual(DEFAULTS);
  });

  test("reads every setting from the environment, typed", () => {
    const env = {
      EDGEFED_DATA_DIR: "/var/lib/edgefed",
      EDGEFED_DATABASE_URL: "postgres://edgefed:pw@db.lan:5432/edgefed",
      EDGEFED_HTTP_HOST: "127.0.0.1",
      EDGEFED_HTTP_PORT: "9000",
      EDGEFED_MQTT_URL: "mqtts://broker.example:8883",
      EDGEFED_MQTT_HOST: "10.0.0.1",
      EDGEFED_MQTT_PORT: "0",
      EDGEFED_MQTT_USERNAME: "dynsec-admin",
      EDGEFED_MQTT_PASSWORD: "broker-pw",
      EDGEFED_PUBLIC_MQTT_URL: "mqtt://hub.lan:1883",
      EDGEFED_ADMIN_TOKEN: "admin-token-of-24-chars-x",
      EDGEFED_WATCH_TOKEN: "watch-token-of-24-chars-x",
      EDGEFED_METRICS_TOKEN: "metrics-token-of-24-chars",
      EDGEFED_METRICS_PER_NODE: "1",
      EDGEFED_HEARTBEAT_S: "5",
      EDGEFED_OFFLINE_AFTER_S: "42",
      EDGEFED_DEGRADED_LOAD: "2.5",
      EDGEFED_MAX_BODY_BYTES: "1024",
      EDGEFED_FLUSH_MS: "250",
      EDGEFED_SWEEP_MS: "500",
      EDGEFED_FEDERATION_CONFIG: "/etc/edgefed/federation.yaml",
      EDGEFED_ALERT_WEBHOOK_URL: "https://hooks.example/services/T0/B0/secret",
      EDGEFED_ALERT_WEBHOOK_PER_MINUTE: "5",
      EDGEFED_ALERT_DEDUP_S: "0",
      EDGEFED_ALERT_WEBHOOK_TIMEOUT_MS: "2000",
      EDGEFED_ALERT_WEBHOOK_RETRY_MS: "250",
      EDGEFED_DECISION_PENDING_ALERT_S: "60",
      EDGEFED_RATE_REGISTER_BURST: "50",
      EDGEFED_RATE_REGISTER_PER_S: "2",
      EDGEFED_RATE_LOGIN_BURST: "3",
      EDGEFED_RATE_LOGIN_PER_S: "0.5",
      EDGEFED_RATE_ADMIN_BURST: "20",
      EDGEFED_RATE_ADMIN_PER_S: "5",
      EDGEFED_RATE_MQTT_PUBLISH_BURST: "100",
      EDGEFED_RATE_MQTT_PUBLISH_PER_S: "10",
      EDGEFED_TRUSTED_PROXIES: "10.0.0.2, 192.168.1.0/24,::1",
      EDGEFED_SESSION_TTL_S: "600",
      EDGEFED_TLS: "on",
      EDGEFED_ALLOW_PLAINTEXT: "1",
      EDGEFED_MQTTS_PORT: "8884",
      EDGEFED_TLS_SANS: "hub.lan, 192.168.1.10",
      EDGEFED_TLS_CERT: "/etc/edgefed/hub.pem",
      EDGEFED_TLS_KEY: "/etc/edgefed/hub.key",
      EDGEFED_TLS_CA: "/etc/edgefed/ca.pem",
      EDGEFED_HUB_ID: "hub-b.lan_2",
      EDGEFED_SHARED_SUBSCRIPTIONS: "1",
      EDGEFED_BROKER_AUTH: "registry",
    };
    expect(parseHubSettings([], env)).toEqual({
      dataDir: "/var/lib/edgefed",
      databaseUrl: "postgres://edgefed:pw@db.lan:5432/edgefed",
      hubId: "hub-b.lan_2",
      sharedSubscriptions: true,
      httpHost: "127.0.0.1",
      httpPort: 9000,
      mqttUrl: "mqtts://broker.example:8883",
      brokerAuth: "registry",
      mqttHost: "10.0.0.1",
      mqttPort: 0,
      mqttUsername: "dynsec-admin",
      mqttPassword: "broker-pw",
      publicMqttUrl: "mqtt://hub.lan:1883",
      adminToken: "admin-token-of-24-chars-x",
      watchToken: "watch-token-of-24-chars-x",
      metricsToken: "metrics-token-of-24-chars",
      metricsPerNode: true,
      heartbeatS: 5,
      offlineAfterS: 42,
      degradedLoad: 2.5,
      maxBodyBytes: 1024,
      flushMs: 250,
      sweepMs: 500,
      federationConfig: "/etc/edgefed/federation.yaml",
      alertWebhookUrl: "https://hooks.example/services/T0/B0/secret",
      alertWebhookPerMinute: 5,
      alertDedupS: 0,
      alertWebhookTimeoutMs: 2000,
      alertWebhookRetryMs: 250,
      decisionPendingAlertS: 60,
      registerBurst: 50,
      registerPerS: 2,
      loginBurst: 3,
      loginPerS: 0.5,
      adminBurst: 20,
      adminPerS: 5,
      mqttPublishBurst: 100,
      mqttPublishPerS: 10,
      trustedProxies: ["10.0.0.2", "192.168.1.0/24", "::1"],
      sessionTtlS: 600,
      tls: true,
      allowPlaintext: true,
      mqttsPort: 8884,
      tlsSans: ["hub.lan", "192.168.1.10"],
      tlsCert: "/etc/edgefed/hub.pem",
      tlsKey: "/etc/edgefed/hub.key",
      tlsCa: "/etc/edgefed/ca.pem",
      requireClientCert: false,
    });
  });

  test("TLS is on by default; off is refused unless plaintext is allowed (lab use)", () => {
    expect(parseHubSettings([], {}).tls).toBe(true);
    for (const off of ["off", "0", "no", ""]) {
      expect(settingsError([], { EDGEFED_TLS: off })).toContain("EDGEFED_TLS: off sends tokens and passwords in clear; it needs EDGEFED_ALLOW_PLAINTEXT=1");
    }
    expect(settingsError(["--tls", "off"])).toContain("EDGEFED_ALLOW_PLAINTEXT=1");
    expect(parseHubSettings([], { EDGEFED_TLS: "off", EDGEFED_ALLOW_PLAINTEXT: "1" })).toMatchObject({ tls: false, allowPlaintext: true });
    expect(parseHubSettings(["--tls", "off", "--allow-plaintext", "1"], {})).toMatchObject({ tls: false, allowPlaintext: true });
  });

  test("TLS settings that do not fit together are refused, naming the variables", () => {
    expect(settingsError([], { EDGEFED_REQUIRE_CLIENT_CERT: "1", EDGEFED_TLS: "off", EDGEFED_ALLOW_PLAINTEXT: "1" })).toContain("EDGEFED_REQUIRE_CLIENT_CERT: client certificates are a part of TLS");
    const operatorFiles = { EDGEFED_TLS: "on", EDGEFED_TLS_CERT: "/etc/hub.pem", EDGEFED_TLS_KEY: "/etc/hub.key", EDGEFED_TLS_CA: "/etc/ca.pem" };
    expect(settingsError([], { ...operatorFiles, EDGEFED_REQUIRE_CLIENT_CERT: "1" })).toContain("EDGEFED_REQUIRE_CLIENT_CERT: client certificates are issued by the hub's own CA");
    expect(settingsError([], { EDGEFED_TLS_CERT: "/etc/hub.pem" })).toContain("EDGEFED_TLS_CERT, EDGEFED_TLS_KEY, EDGEFED_TLS_CA: an operator's certificate needs all three");
    const broker = { EDGEFED_MQTT_USERNAME: "admin" };
    const lab = { EDGEFED_TLS: "off", EDGEFED_ALLOW_PLAINTEXT: "1" };
    expect(settingsError([], { ...broker, ...lab, EDGEFED_MQTT_URL: "mqtts://127.0.0.1:8883" })).toContain("EDGEFED_MQTT_URL: a TLS broker");
    expect(settingsError([], { ...broker, EDGEFED_MQTT_URL: "mqtt://127.0.0.1:1883" })).toContain("plaintext needs EDGEFED_ALLOW_PLAINTEXT=1");
    expect(parseHubSettings([], { ...broker, EDGEFED_MQTT_URL: "mqtt://127.0.0.1:1883", EDGEFED_TLS: "on", EDGEFED_ALLOW_PLAINTEXT: "1" }).tls).toBe(true);
    expect(settingsError([], { EDGEFED_TLS_SANS: "hub lan" })).toContain("EDGEFED_TLS_SANS");
    expect(settingsError([], { EDGEFED_PUBLIC_MQTT_URL: "mqtt://hub.lan:1883" })).toContain("EDGEFED_PUBLIC_MQTT_URL: with TLS on");
    expect(parseHubSettings([], { EDGEFED_TLS: "on", EDGEFED_PUBLIC_MQTT_URL: "mqtts://hub.lan:8883" }).publicMqttUrl).toBe("mqtts://hub.lan:8883");
  });

  test("flags override the environment", () => {
    const settings = parseHubSettings(["--http-port", "7000", "--data-dir", "/flag/dir"], {
      EDGEFED_HTTP_PORT: "9000",
      EDGEFED_DATA_DIR: "/env/dir",
      EDGEFED_HTTP_HOST: "127.0.0.1",
    });
    expect(settings.httpPort).toBe(7000);
    expect(settings.dataDir).toBe("/flag/dir");
    expect(settings.httpHost).toBe("127.0.0.1"); // no flag: the environment holds
  });

  test("accepts --flag=value, keeping any further = in the value", () => {
    const settings = parseHubSettings(["--http-port=7001", "--mqtt-password=a=b=c", "--degraded-load=1.5"], {});
    expect(settings.httpPort).toBe(7001);
    expect(settings.mqttPassword).toBe("a=b=c");
    expect(settings.degradedLoad).toBe(1.5);
  });

  test("--flag= sets an empty value", () => {
    expect(parseHubSettings(["--admin-token="], { EDGEFED_ADMIN_TOKEN: "from-env" }).adminToken).toBe("");
  });

  test("the last of a repeated flag wins", () => {
    expect(parseHubSettings(["--http-port", "1", "--http-port=2"], {}).httpPort).toBe(2);
  });

  test("ports 0 and 65535 are fine", () => {
    expect(parseHubSettings(["--http-port", "0", "--mqtt-port", "65535"], {})).toMatchObject({ httpPort: 0, mqttPort: 65535 });
  });

  test("a bad port names the flag or the environment variable", () => {
    for (const bad of ["65536", "-1", "80.5", "http", "", "1e3"]) {
      expect(settingsError([`--http-port=${bad}`])).toBe(`--http-port: ${JSON.stringify(bad)} is not a port (0-65535)`);
      expect(settingsError([], { EDGEFED_MQTT_PORT: bad })).toBe(`EDGEFED_MQTT_PORT: ${JSON.stringify(bad)} is not a port (0-65535)`);
    }
  });

  test("a negative or non-numeric number names the flag or the environment variable", () => {
    // A value starting with - goes after =: parseArgs takes `--flush-ms -5` for a missing value.
    expect(settingsError(["--flush-ms=-5"])).toBe('--flush-ms: "-5" is not a number above 0');
    expect(settingsError(["--flush-ms", "0"])).toBe('--flush-ms: "0" is not a number above 0');
    expect(settingsError([], { EDGEFED_DEGRADED_LOAD: "-0.1" })).toBe('EDGEFED_DEGRADED_LOAD: "-0.1" is not a number above 0');
    expect(settingsError([], { EDGEFED_SWEEP_MS: "soon" })).toBe('EDGEFED_SWEEP_MS: "soon" is not a number above 0');
    expect(settingsError(["--max-body-bytes", ""])).toBe('--max-body-bytes: "" is not a number above 0');
    expect(settingsError(["--offline-after-s", "Infinity"])).toBe('--offline-after-s: "Infinity" is not a number 0 or more');
  });

  test("a trusted proxy that is not an address or CIDR range names the setting", () => {
    expect(settingsError([], { EDGEFED_TRUSTED_PROXIES: "10.0.0.1,proxy.lan" })).toBe('EDGEFED_TRUSTED_PROXIES: "proxy.lan" is not an IP address or CIDR range');
    expect(settingsError(["--trusted-proxies", "10.0.0.0/33"])).toBe('--trusted-proxies: "10.0.0.0/33": bad prefix length');
  });

  test("a non-mqtt URL names the flag or the environment variable", () => {
    expect(settingsError(["--mqtt-url", "http://broker:1883", "--mqtt-username", "u"])).toBe(
      '--mqtt-url: "http://broker:1883" is not a broker URL (mqtt://, mqtts://, tcp://, ws:// or wss://)',
    );
    expect(settingsError([], { EDGEFED_PUBLIC_MQTT_URL: "broker.lan:1883" })).toBe(
      'EDGEFED_PUBLIC_MQTT_URL: "broker.lan:1883" is not a broker URL (mqtt://, mqtts://, tcp://, ws:// or wss://)',
    );
    expect(settingsError(["--public-mqtt-url", "mqtt://"])).toBe('--public-mqtt-url: "mqtt://" is not a broker URL (mqtt://, mqtts://, tcp://, ws:// or wss://)');
  });

  test("a URL with spaces is refused", () => {
    expect(settingsError(["--public-mqtt-url", "mqtt://host with space"])).toStartWith("--public-mqtt-url:");
  });

  test("a broker URL carrying a user or password is refused, without echoing it", () => {
    const message = settingsError(["--mqtt-url", "mqtt://admin:hunter2@broker:1883"], { EDGEFED_MQTT_USERNAME: "admin" });
    expect(message).toStartWith("--mqtt-url: must not carry a user name or password");
    expect(message).not.toContain("hunter2");
    expect(settingsError([], { EDGEFED_PUBLIC_MQTT_URL: "mqtt://node@broker:1883" })).toStartWith("EDGEFED_PUBLIC_MQTT_URL: must not carry");
  });

  test("an admin token shorter than 24 characters is refused", () => {
    expect(settingsError([], { EDGEFED_ADMIN_TOKEN: "short" })).toStartWith("EDGEFED_ADMIN_TOKEN: at least 24 characters");
  });

  test("mqtt, mqtts, ws, wss and tcp URLs are accepted", () => {
    for (const url of ["mqtt://h:1883", "mqtts://h:8883", "ws://h/mqtt", "wss://h:443/mqtt", "tcp://10.0.0.2:1883"]) {
      expect(parseHubSettings(["--public-mqtt-url", url], { EDGEFED_ALLOW_PLAINTEXT: "1" }).publicMqttUrl).toBe(url);
    }
  });

  test("an unknown flag is named, with a guess when one is near", () => {
    expect(settingsError(["--http-prot", "80"])).toBe("--http-prot: unknown option (did you mean --http-port?)");
    expect(settingsError(["--nope=1"])).toBe("--nope: unknown option (see --help)");
    expect(settingsError(["serve"])).toBe("serve: unexpected argument (see --help)");
  });

  test("a flag without a value is named", () => {
    expect(settingsError(["--http-port"])).toBe("--http-port: needs a value (write --http-port=VALUE for one starting with -)");
    expect(settingsError(["--data-dir", "/d", "--mqtt-url"])).toBe("--mqtt-url: needs a value (write --mqtt-url=VALUE for one starting with -)");
  });

  test("every bad value is reported at once", () => {
    expect(settingsError(["--http-port", "x"], { EDGEFED_FLUSH_MS: "0" })).toBe('--http-port: "x" is not a port (0-65535)\nEDGEFED_FLUSH_MS: "0" is not a number above 0');
  });

  test("offlineAfterS 0 means ten heartbeats, from whichever source the heartbeat came", () => {
    expect(parseHubSettings([], {}).offlineAfterS).toBe(150);
    expect(parseHubSettings([], { EDGEFED_HEARTBEAT_S: "3", EDGEFED_OFFLINE_AFTER_S: "0" }).offlineAfterS).toBe(30);
    expect(parseHubSettings(["--heartbeat-s", "2"], { EDGEFED_HEARTBEAT_S: "3" }).offlineAfterS).toBe(20);
    expect(parseHubSettings(["--heartbeat-s", "2", "--offline-after-s", "7"], {}).offlineAfterS).toBe(7);
  });

  test("a hub id goes into MQTT client ids: anything but letters, digits, dots, dashes and underscores is refused", () => {
    for (const bad of ["", "hub/a", "hub a", "-hub", "#", "x".repeat(64)]) {
      expect(() => parseHubSettings(["--hub-id", bad], {})).toThrow("--hub-id");
    }
    expect(parseHubSettings([], { EDGEFED_HUB_ID: "Hub_2.lan" }).hubId).toBe("Hub_2.lan");
  });

  test("shared subscriptions need an external broker", () => {
    expect(() => parseHubSettings([], { EDGEFED_SHARED_SUBSCRIPTIONS: "1" })).toThrow("EDGEFED_SHARED_SUBSCRIPTIONS: replicas share an external broker");
  });

  test("a broker that reads the registry needs an external broker and the PostgreSQL registry; an unknown way is refused", () => {
    const broker = { EDGEFED_MQTT_URL: "mqtt://emqx.lan:1883", EDGEFED_MQTT_USERNAME: "hub", EDGEFED_ALLOW_PLAINTEXT: "1" };
    expect(() => parseHubSettings([], { EDGEFED_BROKER_AUTH: "registry" })).toThrow("EDGEFED_BROKER_AUTH: registry is for an external broker");
    expect(() => parseHubSettings([], { ...broker, EDGEFED_BROKER_AUTH: "registry" })).toThrow("EDGEFED_BROKER_AUTH: with registry the broker reads node credentials from the PostgreSQL registry");
    expect(parseHubSettings([], { ...broker, EDGEFED_BROKER_AUTH: "registry", EDGEFED_DATABASE_URL: "postgres://db.lan/edgefed" }).brokerAuth).toBe("registry");
    expect(() => parseHubSettings([], { ...broker, EDGEFED_BROKER_AUTH: "emqx" })).toThrow('EDGEFED_BROKER_AUTH: "emqx" is not one of dynsec, registry');
  });

  test("a heartbeat of 0 is refused", () => {
    expect(settingsError([], { EDGEFED_HEARTBEAT_S: "0" })).toBe('EDGEFED_HEARTBEAT_S: "0" is not a number above 0');
  });

  test("an external broker URL without a username names EDGEFED_MQTT_USERNAME", () => {
    expect(settingsError(["--mqtt-url", "mqtts://broker:8883"])).toStartWith("EDGEFED_MQTT_USERNAME:");
    expect(settingsError([], { EDGEFED_MQTT_URL: "mqtts://broker:8883", EDGEFED_MQTT_PASSWORD: "pw" })).toStartWith("EDGEFED_MQTT_USERNAME:");
    expect(parseHubSettings(["--mqtt-url", "mqtts://broker:8883"], { EDGEFED_MQTT_USERNAME: "admin" })).toMatchObject({
      mqttUrl: "mqtts://broker:8883",
      mqttUsername: "admin",
    });
  });

  test("does not read process.env when an environment is given", () => {
    const saved = process.env.EDGEFED_HTTP_PORT;
    process.env.EDGEFED_HTTP_PORT = "1234";
    try {
      expect(parseHubSettings([], {}).httpPort).toBe(8080);
      expect(parseHubSettings([]).httpPort).toBe(1234);
    } finally {
      if (saved === undefined) delete process.env.EDGEFED_HTTP_PORT;
      else process.env.EDGEFED_HTTP_PORT = saved;
    }
  });
});

describe("describeSettings", () => {
  test("masks the broker password and the admin token and never shows them", () => {
    const settings = parseHubSettings(["--mqtt-url", "mqtts://broker:8883", "--mqtt-username", "admin", "--mqtt-password", "s3cret-broker-pw"], {
      EDGEFED_ADMIN_TOKEN: "s3cret-admin-token-long-enough",
    });
    const shown = describeSettings(settings);
    expect(shown.mqttPassword).toBe("***");
    expect(shown.adminToken).toBe("***");
    const text = JSON.stringify(shown);
    expect(text).not.toContain("s3cret-broker-pw");
    expect(text).not.toContain("s3cret-admin-token-long-enough");
    // The settings themselves are untouched, and the rest is shown as is.
    expect(settings.mqttPassword).toBe("s3cret-broker-pw");
    expect(shown).toEqual({ ...settings, mqttPassword: "***", adminToken: "***" });
  });

  test("the watch token is a secret, at least as long as the admin token's minimum, and not the admin token", () => {
    const long = "watch-token-long-enough-1234";
    expect(describeSettings(parseHubSettings([], { EDGEFED_WATCH_TOKEN: long })).watchToken).toBe("***");
    expect(() => parseHubSettings([], { EDGEFED_WATCH_TOKEN: "short" })).toThrow("EDGEFED_WATCH_TOKEN: at least");
    expect(() => parseHubSettings([], { EDGEFED_WATCH_TOKEN: long, EDGEFED_ADMIN_TOKEN: long })).toThrow("must differ from the admin token");
  });

  test("the metrics token is a secret, at least as long as the admin token's minimum", () => {
    const long = "metrics-token-long-enough-1234";
    expect(describeSettings(parseHubSettings([], { EDGEFED_METRICS_TOKEN: long })).metricsToken).toBe("***");
    expect(() => parseHubSettings([], { EDGEFED_METRICS_TOKEN: "short" })).toThrow("EDGEFED_METRICS_TOKEN: at least");
  });

  test("the alert webhook URL is a secret (it may carry a token), and a bad one is refused without repeating it", () => {
    const url = "https://hooks.example/services/T0/B0/s3cret-webhook-token";
    const shown = describeSettings(parseHubSettings([], { EDGEFED_ALERT_WEBHOOK_URL: url }));
    expect(shown.alertWebhookUrl).toBe("***");
    expect(JSON.stringify(shown)).not.toContain("s3cret-webhook-token");
    const problem = settingsError([], { EDGEFED_ALERT_WEBHOOK_URL: "ftp://hooks.example/s3cret-webhook-token" });
    expect(problem).toContain("EDGEFED_ALERT_WEBHOOK_URL");
    expect(problem).not.toContain("s3cret-webhook-token");
    expect(settingsError([], { EDGEFED_ALERT_WEBHOOK_PER_MINUTE: "0" })).toContain("EDGEFED_ALERT_WEBHOOK_PER_MINUTE");
  });

  test("the database URL is a secret (it may carry a password), and a bad one is refused without repeating it", () => {
    const url = "postgres://edgefed:s3cret-db-pw@db.lan:5432/edgefed";
    const shown = describeSettings(parseHubSettings([], { EDGEFED_DATABASE_URL: url }));
    expect(shown.databaseUrl).toBe("***");
    expect(JSON.stringify(shown)).not.toContain("s3cret-db-pw");
    const problem = settingsError([], { EDGEFED_DATABASE_URL: "mysql://edgefed:s3cret-db-pw@db.lan/edgefed" });
    expect(problem).toContain("EDGEFED_DATABASE_URL: is not a PostgreSQL URL");
    expect(problem).not.toContain("s3cret-db-pw");
    expect(parseHubSettings(["--database-url", "postgresql://db.lan/edgefed"]).databaseUrl).toBe("postgresql://db.lan/edgefed");
  });

  test("shows empty secrets as empty, so an unset secret is visible as such", () => {
    const shown = describeSettings(parseHubSettings([], {}));
    expect(shown.mqttPassword).toBe("");
    expect(shown.adminToken).toBe("");
    expect(shown).toEqual({ ...DEFAULTS });
  });
});

describe("hubHelp", () => {
  test("lists every EDGEFED_ variable and its flag", () => {
    const help = hubHelp();
    for (const name of ALL_ENV_VARS) expect(help).toContain(name);
    for (const flag of ALL_ENV_VARS.map((v) => "--" + v.slice("EDGEFED_".length).toLowerCase().replaceAll("_", "-"))) {
      expect(help).toContain(flag);
    }
    expect([...(help.match(/EDGEFED_[A-Z_]+/g) ?? [])].sort()).toEqual([...ALL_ENV_VARS].sort());
  });

  test("shows defaults", () => {
    const help = hubHelp();
    expect(help).toContain("(default 8080)");
    expect(help).toContain("(default 1883)");
    expect(help).toContain("(default ./data/hub)");
  });
});
