// A service whose database goes away and comes back, against a real PostgreSQL that really
// stops (a private embedded server, never the machine's): health turns NOT_SERVING, calls fail
// fast with UNAVAILABLE and a clear message, and everything recovers without a restart.
import assert from "node:assert/strict";
import { after, before, it } from "node:test";
import { credentials, Metadata, type ServiceError, status } from "@grpc/grpc-js";
import { dummyV1, healthV1 } from "@obfy/protos";
import { readServerConfig } from "../config.js";
import { Unimplemented } from "../errors.js";
import { createMetrics } from "../observability/metrics.js";
import { parsePrometheusText, sumSamples } from "../observability/prometheus-text.js";
import { createServer, type KitServer } from "../server/create-server.js";
import { defineService } from "../server/service.js";
import { readDatabaseConfig } from "./config.js";
import { createDatabase, type Database } from "./create-database.js";
import { type Bookshop, captureLogs, firstRelease } from "./fixtures/bookshop.js";
import { type PrivatePostgres, startPrivatePostgres } from "./fixtures/private-postgres.js";

const { SERVING, NOT_SERVING } = healthV1.HealthCheckResponse_ServingStatus;

/** The Dummy service's Execute stores its input as a book title and returns it as read back. */
function bookService(database: Database<Bookshop>) {
  const unimplemented = () => {
    throw new Unimplemented("not in this test");
  };
  return defineService(dummyV1.DummyServiceService, {
    async execute(request, context) {
      const row = await database.kysely
        .insertInto("books")
        .values({ title: request.input })
        .returning("title")
        .executeTakeFirstOrThrow({ signal: context.signal });
      return { output: row.title };
    },
    executeServerStream: unimplemented,
    executeClientStream: unimplemented,
    executeClientServerStream: unimplemented,
  });
}

let postgres: PrivatePostgres;
let database: Database<Bookshop>;
let server: KitServer;
let client: dummyV1.DummyServiceClient;
let health: healthV1.HealthClient;
const logs = captureLogs("info");
const metrics = createMetrics({ defaultMetrics: false });

before(async () => {
  postgres = await startPrivatePostgres();
  const url = await postgres.createDatabase("shop");
  database = createDatabase<Bookshop>({
    config: readDatabaseConfig(
      { DATABASE_URL: url, DATABASE_HEALTH_CHECK_INTERVAL_MS: "200", DATABASE_CONNECT_TIMEOUT_MS: "1000" },
      { name: "shop" },
    ),
    logger: logs.logger,
    metrics,
    migrations: [firstRelease],
  });
  await database.migrate();
  server = createServer({
    services: [bookService(database)],
    interceptors: [database.errorInterceptor],
    config: readServerConfig({}, { host: "127.0.0.1", port: 0, shutdownGraceSeconds: 1 }),
    logger: logs.logger,
  });
  database.onAvailabilityChange((available) => server.setReady(available));
  const { port } = await server.listen();
  client = new dummyV1.DummyServiceClient(`127.0.0.1:${port}`, credentials.createInsecure());
  health = new healthV1.HealthClient(`127.0.0.1:${port}`, credentials.createInsecure());
});

after(async () => {
  client?.close();
  health?.close();
  await server?.shutdown();
  await database?.close();
  await postgres?.destroy();
});

function execute(input: string): Promise<string> {
  return new Promise((resolve, reject) => {
    client.execute({ input }, new Metadata(), { deadline: Date.now() + 10_000 }, (error, response) =>
      error ? reject(error) : resolve(response.output),
    );
  });
}

/** Resolves once the server's health (Watch) reports `wanted`; rejects after 20 s. */
function healthBecomes(wanted: healthV1.HealthCheckResponse_ServingStatus): Promise<void> {
  return new Promise((resolve, reject) => {
    const watch = health.watch({ service: "" });
    const timer = setTimeout(() => {
      watch.cancel();
      reject(new Error(`health did not become ${wanted} within 20 s`));
    }, 20_000);
    watch.on("data", (response: healthV1.HealthCheckResponse) => {
      if (response.status !== wanted) return;
      clearTimeout(timer);
      watch.cancel();
      resolve();
    });
    watch.on("error", (error: ServiceError) => {
      if (error.code !== status.CANCELLED) reject(error);
    });
  });
}

async function available(): Promise<number> {
  return sumSamples(parsePrometheusText(await metrics.registry.metrics()), "db_client_available", {
    db_namespace: "shop",
  });
}

it("reports NOT_SERVING while PostgreSQL is down, answers UNAVAILABLE at once, and recovers when it returns", async () => {
  await healthBecomes(SERVING);
  assert.equal(await execute("Dracula"), "Dracula");

  await postgres.stop();
  await healthBecomes(NOT_SERVING);
  assert.equal(database.available, false);
  assert.equal(await available(), 0);
  for (const input of ["Carmilla", "The Vampyre"]) {
    await assert.rejects(execute(input), (error: ServiceError) => {
      assert.equal(error.code, status.UNAVAILABLE, error.details);
      assert.equal(error.details, "The shop database is unavailable");
      return true;
    });
  }
  assert.ok(
    logs.lines.some((line) => line.level === 40 && line.msg.startsWith("The shop database is unavailable: ")),
    "one warn line says why",
  );

  await postgres.start();
  await healthBecomes(SERVING);
  assert.equal(database.available, true);
  assert.equal(await available(), 1);
  assert.equal(await execute("Carmilla"), "Carmilla");
  assert.ok(logs.lines.some((line) => line.msg === "The shop database is available again"));
  const titles = await database.kysely.selectFrom("books").select("title").orderBy("id").execute();
  assert.deepEqual(
    titles.map((row) => row.title),
    ["Dracula", "Carmilla"],
  );
  const errors = logs.lines.filter((line) => line.level >= 50);
  assert.deepEqual(errors, [], "an outage is no error of ours: nothing logged at error level");
});
