// Starts a whole hub: registry, broker (embedded aedes or an external
// Mosquitto through dynamic security), the hub's MQTT session and ingest, the
// health sweep and batched flush, the alerts (stored, posted to the webhook)
// and the HTTP API. main.ts and tests both start hubs through here.
import { alertOnFleetFreezes } from "./alerting/fleet-freeze-alerts.ts";
import { NodeHealthAlerts } from "./alerting/node-health-alerts.ts";
import { openAlerts } from "./alerting/open-alerts.ts";
import { PendingDecisionAlerts } from "./alerting/pending-decision-alerts.ts";
import type { WebhookSender } from "./alerting/webhook-sender.ts";
import { hubClientId, type BrokerAccess } from "./broker/broker-access.ts";
import { registryBrokerAccess } from "./broker/registry-access.ts";
import { startEmbeddedBroker, type EmbeddedBroker } from "./broker/embedded-broker.ts";
import { PublishBudget } from "./broker/publish-budget.ts";
import { Decisions } from "./decisions/decisions.ts";
import { loadFederationConfig } from "./federation/config-file.ts";
import { FederationDuty } from "./federation/federation-duty.ts";
import { FederationRolesView } from "./federation/roles-view.ts";
import { Fleet, PruneFailed } from "./nodes/fleet.ts";
import { createHubApp } from "./http/app.ts";
import { serveHttp } from "../lib/http-serve.ts";
import type { HubContext } from "./hub-context.ts";
import { loadHubIdentity } from "./identity/hub-identity.ts";
import { ingestThenCommit, nodeToCommitBeforeAck, type NodeMessageHandler } from "./mqtt/commit-before-ack.ts";
import { HubMqtt, type HubMqttOptions } from "./mqtt/hub-mqtt.ts";
import { ReceiptSender } from "./mqtt/receipts.ts";
import { Ingest } from "./ingest/ingest.ts";
import { KeyedLock } from "../lib/keyed-lock.ts";
import { HubMetrics } from "./metrics/hub-metrics.ts";
import { timedStore } from "./metrics/timed-store.ts";
import type { HubSettings } from "./settings.ts";
import { openHubStore } from "./store/open-hub-store.ts";
import { loadHubTls, type HubTls } from "./tls/hub-pki.ts";
import { writeMosquittoTlsListener } from "./tls/mosquitto-listener.ts";
import { WorkPackages } from "./work/work-packages.ts";
import type { OnWorkFinished } from "./work/work-finished.ts";
import { WorkScheduler } from "./work/work-scheduler.ts";
import { LEADER_DUTIES, startLeadership } from "./replicas/leadership.ts";
import { GoneReplicaSessions, REPLICA_ID_WAIT_MS, takeoverSession } from "./replicas/session-takeover.ts";
import { ClientCertificateIssuer } from "./tls/client-certificates.ts";
import { ChangeFeed } from "./replicas/change-feed.ts";
import { ReplicaSync } from "./replicas/replica-sync.ts";
import { storedCaChange } from "./tls/ca-change.ts";

export interface RunningHub {
  httpUrl: string;
  httpPort: number;
  /** The broker's URL as seen from this machine. */
  mqttUrl: string;
  /** The embedded broker's plaintext port; null with Mosquitto, or with TLS on and plaintext not allowed. */
  plaintextMqttPort: number | null;
  context: HubContext;
  ingest: Ingest;
  /** Issues decisions (the HTTP API's, and a federation role's with its origin). */
  decisions: Decisions;
  /** The federation roles at work on what the hub observes (on a shared registry, on one replica: federation.running). */
  federation: FederationDuty;
  /** Work packages: submit and cancel. */
  work: WorkPackages;
  /** Places work packages on nodes and takes back expired leases. */
  workScheduler: WorkScheduler;
  /** Posts alerts to EDGEFED_ALERT_WEBHOOK_URL; null without one. */
  webhook: WebhookSender | null;
  /** The CA, certificate and key the hub serves; null with TLS off. */
  tls: HubTls | null;
  /** Reads the certificate files again (issuing a new server certificate when due) and serves them to new connections; open sessions stay (SIGHUP). */
  reloadTls(): Promise<void>;
  stop(): Promise<void>;
}

const BROKER_CONNECT_TIMEOUT_MS = 15_000;
const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]", "0.0.0.0"]);

export async function startHub(settings: HubSettings, log: (line: string) => void): Promise<RunningHub> {
  // What a start that throws half-way has opened is released, last first: in-process (tests, scripts/start.ts)
  // a replica id left locked would refuse the next start with it.
  const opened: Array<() => Promise<unknown> | void> = [];
  try {
    return await startHubOpening(settings, log, opened);
  } catch (error) {
    for (const release of opened.reverse()) await Promise.resolve().then(release).catch(() => {});
    throw error;
  }
}

async function startHubOpening(settings: HubSettings, log: (line: string) => void, opened: Array<() => Promise<unknown> | void>): Promise<RunningHub> {
  const startedAt = Date.now();
  // A bad federation config stops start-up before anything opens or listens (it names the file and field).
  if (settings.federationConfig) loadFederationConfig(settings.federationConfig);
  let tls = settings.tls ? loadTls(settings, log) : null;
  // Client certificates come from the hub's own CA: with an operator's certificate the hub holds no CA key.
  const clientCertificates = tls?.source === "generated" ? new ClientCertificateIssuer(settings.dataDir) : null;
  // With mutual TLS required the broker asks the hub for a certificate too (CN: the user it logs in as).
  const hubClientCertificate = async (username: string) => (settings.requireClientCert && clientCertificates ? await clientCertificates.issueWithKey(username) : null);
  announceTransport(settings, log);
  const metrics = new HubMetrics({ perNode: settings.metricsPerNode, hubId: settings.hubId });
  const store = timedStore(await openHubStore(settings), (seconds) => metrics.registryCommit(seconds));
  opened.push(() => store.close());
  // Before anything that runs a leader's duty: a second process with this EDGEFED_HUB_ID is refused here.
  const leadership = await startLeadership({ shared: store.shared, databaseUrl: settings.databaseUrl, replicaId: settings.hubId, idWaitMs: REPLICA_ID_WAIT_MS }, log);
  opened.push(() => leadership.stop());
  // Replicas sharing the registry hear what the others change (hub/replicas/); none on SQLite.
  const changeFeed = store.notifications ? await ChangeFeed.start(store.notifications, settings.hubId, log) : null;
  opened.push(() => changeFeed?.stop());
  const identity = await loadHubIdentity(store, settings.dataDir, { adminToken: settings.adminToken, watchToken: settings.watchToken, metricsToken: settings.metricsToken }, log);
  const heartbeatMs = settings.heartbeatS * 1000;
  const fleet = await Fleet.load(store, {
    heartbeatMs,
    offlineAfterMs: settings.offlineAfterS * 1000,
    degradedLoad: settings.degradedLoad,
    listeningSince: startedAt,
  }, Date.now, () => leadership.leads());
  const { alerts, webhook } = await openAlerts(settings, store, identity.keys.publicKey, leadership, log);
  opened.push(() => webhook?.stop(), () => alerts.stop());
  // Set once ingest exists, before any node message can reach it.
  let handleNodeMessage: NodeMessageHandler = () => Promise.reject(new Error("the hub is still starting"));

  // The embedded broker disconnects a node over its budget; with Mosquitto, ingest drops what is over.
  const overBudget = settings.mqttUrl ? "dropping its messages over it" : "disconnected";
  const publishBudget = new PublishBudget({ burst: settings.mqttPublishBurst, perSecond: settings.mqttPublishPerS }, (nodeId, episodeStarts) => {
    metrics.rateLimited(settings.mqttUrl ? "mqtt_ingest" : "mqtt_publish");
    if (episodeStarts) log(`node ${nodeId} is over its MQTT publish budget (${settings.mqttPublishBurst} at once, then ${settings.mqttPublishPerS}/s): ${overBudget}; logged again only after a quiet minute`);
  });

  let embedded: EmbeddedBroker | null = null;
  let broker: BrokerAccess | null = null;
  opened.push(() => broker?.close(), () => embedded?.close());
  let mqttCredentials: { url: string; username: string; password: string };
  if (settings.mqttUrl && settings.brokerAuth === "registry") {
    // The broker (EMQX) reads node credentials and ACLs from the PostgreSQL registry: nothing to grant.
    broker = registryBrokerAccess();
    mqttCredentials = { url: settings.mqttUrl, username: settings.mqttUsername, password: settings.mqttPassword };
  } else if (settings.mqttUrl) {
    const { connectMosquittoDynsec } = await import("./broker/mosquitto-dynsec.ts");
    broker = await connectMosquittoDynsec({
      url: settings.mqttUrl,
      username: settings.mqttUsername,
      password: settings.mqttPassword,
      hubUsername: settings.mqttUsername,
      hubId: settings.hubId,
      ca: tls?.ca,
      clientCertificate: await hubClientCertificate(settings.mqttUsername),
      log,
    });
    if (tls) log(`Mosquitto's MQTTS listener with the hub's certificate: ${writeMosquittoTlsListener(settings.dataDir, tls, settings.requireClientCert)}`);
    mqttCredentials = { url: settings.mqttUrl, username: settings.mqttUsername, password: settings.mqttPassword };
  } else {
    embedded = await startEmbeddedBroker({
      host: settings.mqttHost,
      port: settings.mqttPort,
      plaintext: !tls || settings.allowPlaintext,
      tls: tls ? { port: settings.mqttsPort, cert: tls.cert, key: tls.key, ...(settings.requireClientCert ? { clientCa: tls.ca } : {}) } : undefined,
      nodes: fleet.all(),
      watcherPasswordHash: identity.watchTokenHash,
      publishBudget,
      // The broker dies with the hub: it may acknowledge these to a node only once the hub has committed them.
      ingestBeforeAck: {
        covers: (topic) => nodeToCommitBeforeAck(topic) !== null,
        ingest: (topic, payload) =>
          handleNodeMessage(topic, payload, false)?.catch((error: Error) => {
            log(`committing a message on ${topic} failed; the node gets no PUBACK and sends it again: ${error.message}`);
            throw error;
          }),
      },
    });
    broker = embedded.access;
    mqttCredentials = { url: embedded.url, ...embedded.hubCredentials };
    const plaintextBeside = tls && embedded.plaintextPort !== null ? `, plaintext MQTT on ${settings.mqttHost}:${embedded.plaintextPort}` : "";
    log(`embedded broker on ${settings.mqttHost}:${embedded.port}${tls ? " (MQTTS)" : ""}${plaintextBeside}`);
  }
  // What nodes are told (their host rewritten below): the embedded broker's MQTTS listener when TLS is on.
  const nodeBrokerUrl = settings.mqttUrl || `${tls ? "mqtts" : "mqtt"}://127.0.0.1:${embedded?.port}`;

  let mqtt: HubMqtt | null = null;
  const context: HubContext = {
    settings,
    store,
    fleet,
    identity,
    broker,
    alerts,
    metrics,
    changeFeed,
    leadership,
    nodeLocks: new KeyedLock(),
    brokerUrlFor(requestHost) {
      if (settings.publicMqttUrl) return settings.publicMqttUrl;
      // A broker the hub reaches on loopback is reached by nodes on the host they called the hub by.
      const url = new URL(nodeBrokerUrl);
      if (requestHost && LOOPBACK_HOSTS.has(url.hostname) && URL.canParse(`http://${requestHost}`)) {
        url.hostname = new URL(`http://${requestHost}`).hostname;
      }
      return url.toString().replace(/\/$/, "");
    },
    publish: (topic, payload, options) => (mqtt ? mqtt.publish(topic, payload, options) : Promise.reject(new Error("no broker session"))),
    brokerConnected: () => mqtt?.connected ?? false,
    clock: Date.now,
    log,
    startedAt,
    clientCertificates,
  };

  context.alerts.whenRaised((alert) => metrics.alertRaised(alert.kind, alert.severity));

  const decisions = await Decisions.load(context);
  // Rebuilt from the registry before any node message can reach it (ingest is wired below).
  const federation = new FederationDuty({
    decisions,
    alerts: context.alerts,
    store,
    nodes: () => [...fleet.all()].map((node) => ({ nodeId: node.nodeId, health: node.health, transitions: fleet.transitions(node.nodeId) })),
    clock: context.clock,
    log,
    configFile: settings.federationConfig,
    hubId: settings.hubId,
  });
  // The roles decide for the whole fleet: on a shared registry only the leader runs them (on SQLite the one hub leads).
  if (leadership.leads()) await federation.start();
  federation.followLeadership(leadership);
  opened.push(() => federation.close());
  const federationRoles = new FederationRolesView({ duty: federation, store, configFile: settings.federationConfig, hubId: settings.hubId, clock: context.clock });
  alertOnFleetFreezes(decisions, alerts);
  const nodeHealthAlerts = new NodeHealthAlerts(alerts, fleet, context.clock);
  fleet.onEvent((event) => {
    nodeHealthAlerts.observe(event);
    federation.observe(event);
  });
  const pendingDecisionAlerts = await PendingDecisionAlerts.start({ store, alerts, limitMs: settings.decisionPendingAlertS * 1000, leads: () => leadership.leads(), clock: context.clock, log });
  opened.push(() => pendingDecisionAlerts.stop());
  // A finished package of a RESEARCH_TASK is its node's ack of the decision.
  const onWorkFinished: OnWorkFinished = (tx, pkg, at) => decisions.acknowledgeFromWork(tx, pkg, at);
  const workScheduler = await WorkScheduler.start(context, settings.sweepMs, onWorkFinished);
  opened.push(() => workScheduler.stop());
  decisions.whenIssued((issued) => {
    if (issued.byWork.length > 0) workScheduler.kick(); // place the research packages at once
  });
  const ingest = new Ingest(
    fleet,
    {
      onAck: (node, ack, now) => decisions.acknowledge(node, ack, now),
      onBirth: (node, now) => {
        void decisions.redeliver(node, now);
        workScheduler.kick(); // its slots may be new
      },
      onWorkProgress: (node, message, now) => workScheduler.onProgress(node, message, now),
      onWorkResult: (node, message, now) => workScheduler.onResult(node, message, now),
    },
    log,
    Date.now,
    settings.mqttUrl ? publishBudget : null,
  );
  // Receipts go on the hub's own connection, after the commit (protocol/receipts.ts).
  const receipts = new ReceiptSender({
    send: (topic, payload) => mqtt?.sendIfClear(topic, payload) ?? false,
    counted: (sent, unsent) => metrics.receipts(sent, unsent),
    clock: Date.now,
  });
  handleNodeMessage = ingestThenCommit(ingest, fleet, {
    committed: (kind, sentAt) => metrics.ingestCommitted(kind, sentAt, Date.now()),
    receipted: (nodeId, ob) => receipts.add(nodeId, ob),
  });
  changeFeed?.onReconnect(() => decisions.retellLatest());
  if (changeFeed) handleNodeMessage = ReplicaSync.listen(changeFeed, store, fleet, decisions).knownNodesFirst(handleNodeMessage);
  const mqttOptions: HubMqttOptions = {
    ...mqttCredentials,
    clientId: hubClientId("ingest", settings.hubId),
    sharedSubscriptions: settings.sharedSubscriptions,
    onMessage: (topic, payload, retained) => handleNodeMessage(topic, payload, retained),
    retainedOnConnect: () => [...decisions.retainedPolicies(), ...storedCaChange(settings.dataDir)],
    log,
    ca: tls?.ca,
    clientCertificate: await hubClientCertificate(mqttCredentials.username),
    loopbackBroker: embedded !== null,
  };
  mqtt = new HubMqtt(mqttOptions);
  opened.push(() => (settings.sharedSubscriptions ? mqtt?.leaveSharedGroup() : mqtt?.close()));
  await mqtt.waitConnected(BROKER_CONNECT_TIMEOUT_MS);
  const replicaLocks = leadership.replicaLocks;
  const goneReplicas = settings.sharedSubscriptions && replicaLocks ? new GoneReplicaSessions({ leadership: { leads: () => leadership.leads(), replicaLocks }, resume: takeoverSession(mqttOptions), log }) : null;
  opened.push(() => goneReplicas?.stop());
  metrics.readFrom({
    nodes: () => fleet.all(),
    ingestStats: () => ingest.stats(),
    fleetPolicy: () => decisions.policyInForce("fleet"),
    outstandingDecisions: (now, expiredSince) => store.decisions.outstanding(now, expiredSince),
    roleDecisions: () => federation.running?.counters().decisions ?? {},
    roleConflicts: () => federation.running?.counters().conflicts ?? 0,
    roleModes: () => Object.fromEntries(Object.entries(federation.running?.roles() ?? {}).map(([role, { mode }]) => [role, mode])),
    mqttClients: () => embedded?.connectedClients() ?? null,
    workPackages: () => store.work.countByState(),
    leaderDuties: () => ({ all: LEADER_DUTIES, led: leadership.duties() }),
    federationTailStalledSince: () => federation.tailCounters?.stalledSince ?? null,
    clock: context.clock,
  });

  const flushAndReport = () =>
    fleet.flush().catch((error: Error) => log(error instanceof PruneFailed ? error.message : `writing live node state failed (kept for the next flush): ${error.message}`));
  const flushTimer = setInterval(flushAndReport, settings.flushMs);
  // The leader's duty; on a shared registry the other replicas take up the health the leader stored (hub/nodes/ordered-write.ts).
  const sweepTimer = setInterval(() => {
    const leads = leadership.leads();
    if (store.shared) fleet.sweepShared(Date.now(), leads).catch((error: Error) => log(`health sweep failed: ${error.message}`));
    else if (leads) fleet.sweep(Date.now());
  }, settings.sweepMs);
  opened.push(() => clearInterval(flushTimer), () => clearInterval(sweepTimer));

  const work = new WorkPackages(context, () => workScheduler.kick(), onWorkFinished);
  const app = createHubApp(context, decisions, ingest, federationRoles, work, workScheduler);
  const server = await serveHttp(app.fetch, settings.httpHost, settings.httpPort, tls ? { cert: tls.cert, key: tls.key } : undefined);
  const httpHost = settings.httpHost === "0.0.0.0" ? "127.0.0.1" : settings.httpHost;
  // One wording with TLS or without: scripts and tests wait for "HTTP API on HOST:PORT".
  log(`HTTP API on ${settings.httpHost}:${server.port}${tls ? " (HTTPS)" : ""}; ${fleet.size} node(s) in the registry`);

  return {
    httpUrl: `${tls ? "https" : "http"}://${httpHost}:${server.port}`,
    httpPort: server.port,
    mqttUrl: mqttCredentials.url,
    plaintextMqttPort: embedded?.plaintextPort ?? null,
    context,
    ingest,
    decisions,
    federation,
    work,
    workScheduler,
    webhook,
    get tls() {
      return tls;
    },
    async reloadTls() {
      if (!tls) return;
      tls = loadTls(settings, log);
      embedded?.setTlsCertificate(tls);
      await server.setCertificate(tls);
      log(`TLS: serving the certificate from ${tls.certFile} (expires ${new Date(tls.expiresAt).toISOString()}) to new connections`);
    },
    async stop() {
      await federation.close();
      await workScheduler.stop();
      nodeHealthAlerts.stop();
      alerts.stop();
      clearInterval(flushTimer);
      clearInterval(sweepTimer);
      await server.stop();
      await goneReplicas?.stop();
      // Receipts of what is committed go before the connection closes (fewer events sent again).
      receipts.flush();
      // With replicas, this one's share goes to the others at once (nothing left queued for it).
      await (settings.sharedSubscriptions ? mqtt!.leaveSharedGroup() : mqtt!.close());
      receipts.stop();
      await broker.close();
      if (embedded) await embedded.close();
      await flushAndReport(); // behind the writes already queued (acks)
      await pendingDecisionAlerts.stop();
      await changeFeed?.stop();
      await alerts.settled();
      await webhook?.stop(); // the post in flight finishes and is recorded
      await leadership.stop(); // after the duties: the next leader starts where this one left off
      await store.close();
      log("stopped");
    },
  };
}

function loadTls(settings: HubSettings, log: (line: string) => void): HubTls {
  return loadHubTls(
    { dataDir: settings.dataDir, extraSans: settings.tlsSans, certFile: settings.tlsCert, keyFile: settings.tlsKey, caFile: settings.tlsCa },
    Date.now(),
    log,
  );
}

/** Says at start when anything listens or talks in plaintext (also in /health). */
function announceTransport(settings: HubSettings, log: (line: string) => void): void {
  if (!settings.tls) log("PLAINTEXT: TLS is off (EDGEFED_TLS=off): the HTTP API and MQTT carry tokens and passwords in clear");
  else if (settings.requireClientCert) log("mutual TLS required (EDGEFED_REQUIRE_CLIENT_CERT=1): the broker refuses clients without a certificate from the hub's CA");
  if (settings.tls && settings.allowPlaintext) log("PLAINTEXT allowed (EDGEFED_ALLOW_PLAINTEXT=1): the embedded broker also listens without TLS (lab use only)");
}
