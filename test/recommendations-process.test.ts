// The Recommendations deployable as a process, with the kit's observability and security wired in
// by its main.ts: /metrics on METRICS_PORT, trace ids in the call logs, mTLS with the
// authorization policy, the plaintext probe port, bearer tokens, and SIGTERM draining with all of
// that running. Every port is picked by the service itself (0) and read from its startup line.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer as createNetServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it, type TestContext } from "node:test";
import { fileURLToPath } from "node:url";
import { type ChannelCredentials, Metadata, status } from "@grpc/grpc-js";
import {
  ClientError,
  createChannelCredentials,
  createClient,
  createClientSecurity,
  createLogger,
  parsePrometheusText,
  readTlsConfig,
  spiffeId,
  sumSamples,
  withBearerToken,
} from "@obfy/kit";
import { createDatabase, readDatabaseConfig, sql } from "@obfy/kit/db";
import { createTestDatabase } from "@obfy/kit/db/testing";
import { createDevCertificates, createDevTokenIssuer, issueCertificate } from "@obfy/kit/dev";
import { healthV1, legacyRecommendations, recommendationsV1 } from "@obfy/protos";
import { type LoggedProcess, spawnLogged } from "./support/logged-process.js";
import { logRecords } from "./support/pages.js";
import { freePort } from "./support/readiness.js";

const repoRoot = fileURLToPath(new URL("..", import.meta.url));
// From source through tsx, on a loaded machine, the kit (database and event bus included) takes a while to load.
const STARTUP_MS = 90_000;
const V1_SERVICE = "bookstore.recommendations.v1.RecommendationsService";
const logger = createLogger({ name: "recommendations-process-test", level: "silent" });

interface Started {
  readonly service: LoggedProcess;
  readonly port: number;
  readonly metricsPort: number | undefined;
  readonly healthPort: number | undefined;
  readonly record: Record<string, unknown>;
}

/** Settings of the test runner's own environment that would change what the service does. */
const INHERITED_SETTINGS =
  /^(TLS_|AUTH_|AUTHZ_|OTEL_|METRICS_|HEALTH_PORT$|PORT$|HOST$|LOG_|GRPC_|NODE_ENV$|BOOKS_FILE$|DATABASE_|EVENT_BUS)/;

/** Runs services/recommendations/src/main.ts from source; killed (if still running) after the test. */
function spawnService(t: TestContext, env: Readonly<Record<string, string>>): LoggedProcess {
  const base = Object.fromEntries(Object.entries(process.env).filter(([key]) => !INHERITED_SETTINGS.test(key)));
  const service = spawnLogged(
    process.execPath,
    ["--conditions=source", "--import", "tsx", "services/recommendations/src/main.ts"],
    {
      cwd: repoRoot,
      env: { ...base, HOST: "127.0.0.1", PORT: "0", LOG_FORMAT: "json", SHUTDOWN_GRACE_SECONDS: "5", ...env },
    },
  );
  t.after(() => service.stop());
  return service;
}

/**
 * Starts the service (without DATABASE_URL: from data/books.json alone) and waits for its startup
 * line, which names the ports it bound; HEALTH_PORT, when asked for, is picked here.
 */
async function startService(t: TestContext, env: Readonly<Record<string, string>>): Promise<Started> {
  const healthPort = env.HEALTH_PORT === undefined ? undefined : await freePort();
  const service = spawnService(t, healthPort === undefined ? env : { ...env, HEALTH_PORT: String(healthPort) });
  await service.waitForLine(/"msg":"recommendations started/, STARTUP_MS);
  const record = logRecords(service.lines).find((r) => String(r.msg).startsWith("recommendations started"));
  assert.ok(record, service.lines.join("\n"));
  const port = Number(String(record.address).split(":").at(-1));
  assert.ok(port > 0, `gRPC port in ${JSON.stringify(record)}`);
  return {
    service,
    port,
    metricsPort: typeof record.metrics_port === "number" ? record.metrics_port : undefined,
    healthPort,
    record,
  };
}

async function stopGracefully(service: LoggedProcess): Promise<void> {
  service.kill("SIGTERM");
  const exit = await service.exited;
  assert.deepEqual(exit, { code: 0, signal: null }, service.lines.join("\n"));
  const messages = logRecords(service.lines).map((r) => r.msg);
  assert.ok(messages.includes("Shutdown complete"), "the gRPC server drained");
  assert.ok(messages.includes("Shut down gracefully"), service.lines.join("\n"));
}

function clientFor<const D extends Parameters<typeof createClient>[0]>(
  t: TestContext,
  definition: D,
  target: string,
  credentials?: ChannelCredentials,
) {
  const client = createClient(definition, target, {
    logger,
    retry: false,
    defaultTimeoutMs: 5000,
    ...(credentials === undefined ? {} : { credentials }),
  });
  t.after(() => client.close());
  return client;
}

function rejectsWith(code: status, details?: string) {
  return (error: unknown) => {
    assert.ok(error instanceof ClientError, `expected a ClientError, got ${String(error)}`);
    assert.equal(error.codeName, status[code], error.message);
    if (details !== undefined) assert.equal(error.details, details);
    return true;
  };
}

async function scrape(metricsPort: number) {
  const response = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  return parsePrometheusText(await response.text());
}

const mystery = recommendationsV1.RecommendRequest.fromPartial({
  userId: 1,
  category: recommendationsV1.BookCategory.BOOK_CATEGORY_MYSTERY,
});

describe("recommendations process: observability", () => {
  it("serves /metrics counting real calls by code, logs trace ids, and drains on SIGTERM with the metrics server up", async (t) => {
    const { service, port, metricsPort, record } = await startService(t, { METRICS_PORT: "0" });
    assert.ok(metricsPort !== undefined && metricsPort > 0, JSON.stringify(record));
    assert.match(String(record.msg), new RegExp(`metrics http://127\\.0\\.0\\.1:${metricsPort}/metrics`));
    assert.equal(record.tls_mode, "off");
    assert.equal(record.reflection, true);
    assert.equal(record.database, undefined, "no read model without DATABASE_URL");

    const handled = (exposition: ReturnType<typeof parsePrometheusText>, service: string, code: string) =>
      sumSamples(exposition, "grpc_server_handled_total", {
        grpc_service: service,
        grpc_method: "Recommend",
        grpc_code: code,
      });
    const before = await scrape(metricsPort);
    assert.equal(handled(before, V1_SERVICE, "OK"), 0);
    for (const name of [
      "process_cpu_user_seconds_total",
      "process_resident_memory_bytes",
      "nodejs_eventloop_lag_p99_seconds",
    ]) {
      assert.ok(
        before.samples.some((s) => s.name === name),
        `process metric ${name}`,
      );
    }

    const target = `127.0.0.1:${port}`;
    const v1 = clientFor(t, recommendationsV1.RecommendationsServiceService, target);
    const legacy = clientFor(t, legacyRecommendations.RecommendationsService, target);
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const parentSpanId = "00f067aa0ba902b7";
    const requestId = `trace-test-${process.pid}`;
    const metadata = new Metadata();
    metadata.set("traceparent", `00-${traceId}-${parentSpanId}-01`);
    metadata.set("x-request-id", requestId);
    assert.equal((await v1.recommend(mystery, { metadata })).recommendations.length, 3);
    assert.equal((await v1.recommend(mystery)).recommendations.length, 3);
    await assert.rejects(
      v1.recommend(recommendationsV1.RecommendRequest.fromPartial({ category: 17 as recommendationsV1.BookCategory })),
      rejectsWith(status.NOT_FOUND, "Category not found"),
    );
    const old = await legacy.recommend({
      userId: 1,
      category: legacyRecommendations.BookCategory.MYSTERY,
      maxResults: 1,
    });
    assert.equal(old.recommendations.length, 1);

    const after = await scrape(metricsPort);
    assert.equal(handled(after, V1_SERVICE, "OK"), 2);
    assert.equal(handled(after, V1_SERVICE, "NOT_FOUND"), 1);
    assert.equal(handled(after, "Recommendations", "OK"), 1);
    assert.equal(
      sumSamples(after, "grpc_server_handling_seconds_count", { grpc_service: V1_SERVICE, grpc_method: "Recommend" }),
      3,
    );

    // The call's log line is written inside its server span: the caller's trace id, a new span id.
    await service.waitForLine(new RegExp(`"request_id":"${requestId}"`), 10_000);
    const callLines = logRecords(service.lines).filter((r) => r.request_id === requestId);
    assert.ok(callLines.length >= 1);
    for (const line of callLines) {
      assert.equal(line.trace_id, traceId, JSON.stringify(line));
      assert.match(String(line.span_id), /^[0-9a-f]{16}$/);
      assert.notEqual(line.span_id, parentSpanId, "the server span is a child of the caller's");
    }
    assert.ok(callLines.some((r) => r.method === `/${V1_SERVICE}/Recommend` && r.grpc_code === "OK"));

    // A kept-alive scrape connection stays open across the signal: closing must not wait for it.
    const keepAlive = await fetch(`http://127.0.0.1:${metricsPort}/metrics`, { keepalive: true });
    await keepAlive.text();
    await stopGracefully(service);
    await assert.rejects(fetch(`http://127.0.0.1:${metricsPort}/metrics`), "metrics server closed with the process");
  });
});

describe("recommendations process: mTLS, authorization and the probe port", () => {
  it("serves the marketplace identity, refuses others, answers health on the plaintext probe port, and drains", async (t) => {
    const dir = await mkdtemp(join(tmpdir(), "recommendations-mtls-"));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const certs = await createDevCertificates({ dir });
    const reporting = await issueCertificate({
      ca: certs.ca,
      certFile: join(dir, "reporting.pem"),
      keyFile: join(dir, "reporting.key"),
      commonName: "reporting",
      uris: [spiffeId("reporting")],
      usage: "client",
    });

    const { service, port, healthPort, metricsPort, record } = await startService(t, {
      TLS_MODE: "mtls",
      TLS_CERT_FILE: certs.server.certFile,
      TLS_KEY_FILE: certs.server.keyFile,
      TLS_CA_FILE: certs.ca.certFile,
      HEALTH_PORT: "0",
      METRICS_PORT: "0",
    });
    assert.equal(record.tls_mode, "mtls");
    assert.ok(healthPort !== undefined && healthPort > 0, JSON.stringify(record));
    assert.ok(metricsPort !== undefined);
    const target = `127.0.0.1:${port}`;
    const mtlsAs = (cert: { certFile: string; keyFile: string }) =>
      createClientSecurity({
        TLS_MODE: "mtls",
        TLS_CERT_FILE: cert.certFile,
        TLS_KEY_FILE: cert.keyFile,
        TLS_CA_FILE: certs.ca.certFile,
      }).credentials;

    const marketplace = mtlsAs(certs.client);
    const v1 = clientFor(t, recommendationsV1.RecommendationsServiceService, target, marketplace);
    const books = await v1.recommend(mystery);
    assert.deepEqual(books.recommendations.map((b) => b.id).sort(), [1, 2, 3]);
    const legacy = clientFor(t, legacyRecommendations.RecommendationsService, target, marketplace);
    const old = await legacy.recommend({
      userId: 1,
      category: legacyRecommendations.BookCategory.SELF_HELP,
      maxResults: 2,
    });
    assert.equal(old.recommendations.length, 2);

    // Verifies the server but shows no certificate: the handshake fails, no call reaches a handler.
    const anonymous = clientFor(
      t,
      recommendationsV1.RecommendationsServiceService,
      target,
      createChannelCredentials(readTlsConfig({ TLS_MODE: "tls", TLS_CA_FILE: certs.ca.certFile }, "client")),
    );
    await assert.rejects(anonymous.recommend(mystery), rejectsWith(status.UNAVAILABLE));
    const plaintext = clientFor(t, recommendationsV1.RecommendationsServiceService, target);
    await assert.rejects(plaintext.recommend(mystery), rejectsWith(status.UNAVAILABLE));

    const other = clientFor(t, recommendationsV1.RecommendationsServiceService, target, mtlsAs(reporting));
    await assert.rejects(
      other.recommend(mystery),
      rejectsWith(status.PERMISSION_DENIED, `Identity "reporting" is not allowed to call /${V1_SERVICE}/Recommend`),
    );

    // The probe port: plaintext, health only, the main server's statuses.
    const probeTarget = `127.0.0.1:${healthPort}`;
    const probe = clientFor(t, healthV1.HealthService, probeTarget);
    for (const name of ["", V1_SERVICE, "Recommendations"]) {
      const answer = await probe.check({ service: name });
      assert.equal(answer.status, healthV1.HealthCheckResponse_ServingStatus.SERVING, `health of "${name}"`);
    }
    const onProbe = clientFor(t, recommendationsV1.RecommendationsServiceService, probeTarget);
    await assert.rejects(onProbe.recommend(mystery), rejectsWith(status.UNIMPLEMENTED));

    // A Watch held open on the probe port sees the drain, and does not keep the process alive.
    const watch = probe.watch({ service: "" }, { timeoutMs: 20_000 })[Symbol.asyncIterator]();
    const first = await watch.next();
    assert.equal(first.done, false);
    assert.equal(first.value?.status, healthV1.HealthCheckResponse_ServingStatus.SERVING);
    const rest = (async () => {
      const seen: healthV1.HealthCheckResponse_ServingStatus[] = [];
      try {
        for (let next = await watch.next(); next.done !== true; next = await watch.next()) seen.push(next.value.status);
        return { seen, error: undefined };
      } catch (error) {
        return { seen, error };
      }
    })();
    await stopGracefully(service);
    const { seen, error } = await rest;
    assert.deepEqual(seen, [healthV1.HealthCheckResponse_ServingStatus.NOT_SERVING]);
    assert.ok(error instanceof ClientError, `the watch ends with a status, got ${String(error)}`);
  });
});

describe("recommendations process: bearer tokens", () => {
  it("checks tokens from the identity provider when AUTH_JWKS_URL is set (with TLS)", async (t) => {
    const dir = await mkdtemp(join(tmpdir(), "recommendations-jwt-"));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const certs = await createDevCertificates({ dir });
    const issuer = await createDevTokenIssuer(
      { clients: {}, audience: "recommendations" },
      { host: "127.0.0.1", port: 0 },
    );
    t.after(() => issuer.close());

    const { service, port, record } = await startService(t, {
      TLS_MODE: "tls",
      TLS_CERT_FILE: certs.server.certFile,
      TLS_KEY_FILE: certs.server.keyFile,
      AUTH_JWKS_URL: issuer.jwksUrl,
      AUTH_ISSUER: issuer.issuer,
      AUTH_AUDIENCE: "recommendations",
      AUTH_REQUIRED_SCOPES: JSON.stringify({ [`/${V1_SERVICE}/*`]: ["recommendations.read"] }),
      METRICS_PORT: "off",
    });
    assert.equal(record.metrics_port, undefined);
    assert.match(String(record.msg), /metrics off/);
    const target = `127.0.0.1:${port}`;
    const tls = createChannelCredentials(readTlsConfig({ TLS_MODE: "tls", TLS_CA_FILE: certs.ca.certFile }, "client"));
    const withToken = (claims: Record<string, unknown>) => withBearerToken(tls, () => issuer.issue(claims));

    const reader = clientFor(
      t,
      recommendationsV1.RecommendationsServiceService,
      target,
      withToken({ sub: "reporting", scope: "recommendations.read" }),
    );
    assert.equal((await reader.recommend(mystery)).recommendations.length, 3);

    const noToken = clientFor(t, recommendationsV1.RecommendationsServiceService, target, tls);
    await assert.rejects(
      noToken.recommend(mystery),
      rejectsWith(status.UNAUTHENTICATED, "A valid bearer token is required"),
    );

    const noScope = clientFor(
      t,
      recommendationsV1.RecommendationsServiceService,
      target,
      withToken({ sub: "reporting", scope: "profile" }),
    );
    await assert.rejects(
      noScope.recommend(mystery),
      rejectsWith(
        status.PERMISSION_DENIED,
        `Token lacks the scope "recommendations.read" required for /${V1_SERVICE}/Recommend`,
      ),
    );
    await stopGracefully(service);
  });
});

describe("recommendations process: the read model", () => {
  it("migrates its database, answers from the books file while it is empty, reloads on a change, and stops cleanly", async (t) => {
    const [own, bus] = [await createTestDatabase(), await createTestDatabase()];
    t.after(() => Promise.all([own.drop(), bus.drop()]));
    const { service, port, record } = await startService(t, {
      DATABASE_URL: own.url,
      EVENT_BUS: "postgres",
      EVENT_BUS_DATABASE_URL: bus.url,
      // No Catalog: the backfill retries in the background, which must not stop the service.
      CATALOG_ADDRESS: "127.0.0.1:9",
      METRICS_PORT: "off",
    });
    assert.equal(record.database, "recommendations");
    assert.equal(record.event_bus, "postgres");
    const v1 = clientFor(t, recommendationsV1.RecommendationsServiceService, `127.0.0.1:${port}`);
    const selfHelp = recommendationsV1.RecommendRequest.fromPartial({
      category: recommendationsV1.BookCategory.BOOK_CATEGORY_SELF_HELP,
      maxResults: 10,
    });
    assert.deepEqual((await v1.recommend(selfHelp)).recommendations.map((b) => b.id).sort(), [7, 8, 9]);

    // A change committed with a revision bump and its NOTIFY, as the consumers commit theirs.
    const database = createDatabase<Record<string, never>>({
      config: readDatabaseConfig({ DATABASE_URL: own.url }, { name: "recommendations" }),
      logger,
    });
    t.after(() => database.close());
    await database.kysely.transaction().execute(async (trx) => {
      await sql`insert into books (book_id, isbn, title, authors, category_ids, publication_year, price_currency, price_minor, version)
        values ('77', '9780062457714', 'The Subtle Art of Not Giving a F*ck', '{Mark Manson}', '{self-help}', 2016, 'USD', 1499, 1)`.execute(
        trx,
      );
      await sql`with bumped as (update model_revision set revision = revision + 1 returning revision)
        select pg_notify('recommendations_model', revision::text) from bumped`.execute(trx);
    });
    const deadline = Date.now() + 20_000;
    let ids: number[] = [];
    while (Date.now() < deadline) {
      ids = (await v1.recommend(selfHelp)).recommendations.map((b) => b.id);
      if (ids.length === 1) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.deepEqual(ids, [77], "the catalogue's books replace the file's");
    await stopGracefully(service);
    assert.ok(!service.lines.join("\n").includes('"level":50'), "no error lines");
  });
});

describe("recommendations process: bad security and metrics settings", () => {
  for (const [env, message] of [
    [{ TLS_MODE: "mtls" }, "Cannot start: TLS_MODE=mtls requires TLS_CERT_FILE"],
    [
      { METRICS_PORT: "nine" },
      'Cannot start: METRICS_PORT must be an integer between 0 and 65535 or "off", got "nine"',
    ],
  ] as const) {
    it(`refuses ${JSON.stringify(env)} with one clear line and exit code 1`, async (t) => {
      const service = spawnService(t, { METRICS_PORT: "0", ...env });
      assert.deepEqual(await service.exited, { code: 1, signal: null });
      const fatal = logRecords(service.lines).find((r) => r.level === 60);
      assert.ok(fatal, service.lines.join("\n"));
      assert.ok(String(fatal.msg).startsWith(message), String(fatal.msg));
      assert.ok(!service.lines.join("\n").includes("    at "), "no stack trace");
    });
  }

  it("names METRICS_PORT when its port is taken, and exits 1", async (t) => {
    const taken = createNetServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    t.after(() => new Promise<void>((resolve) => taken.close(() => resolve())));
    const address = taken.address();
    assert.ok(address !== null && typeof address === "object");
    const service = spawnService(t, { METRICS_HOST: "127.0.0.1", METRICS_PORT: String(address.port) });
    assert.deepEqual(await service.exited, { code: 1, signal: null });
    const fatal = logRecords(service.lines).find((r) => r.level === 60);
    assert.equal(
      fatal?.msg,
      `Cannot start: METRICS_PORT: cannot listen on 127.0.0.1:${address.port}: listen EADDRINUSE: address already in use 127.0.0.1:${address.port}`,
      service.lines.join("\n"),
    );
  });
});
