// The Catalog deployable as a process: the built bundle with real PostgreSQL and the pg-boss bus
// seeds its empty database before it answers, serves health, books, search and covers, and stops
// cleanly on SIGTERM.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { createClient } from "@obfy/kit/client";
import { createLogger } from "@obfy/kit/core";
import { createTestDatabase, type TestDatabase } from "@obfy/kit/db/testing";
import { catalogV1 } from "@obfy/protos";
import { type LoggedProcess, spawnLogged } from "./support/logged-process.js";
import { logRecords } from "./support/pages.js";
import { waitForGrpcServing } from "./support/readiness.js";

const repoRoot = fileURLToPath(new URL("..", import.meta.url));
const bundle = join(repoRoot, "services", "catalog", "dist", "main.bundle.js");
const logger = createLogger({ name: "catalog-process-test", level: "silent" });
const INHERITED =
  /^(TLS_|AUTH_|AUTHZ_|OTEL_|METRICS_|HEALTH_PORT$|PORT$|HOST$|LOG_|GRPC_|NODE_ENV$|DATABASE_|EVENT_BUS|CATALOG_)/;

describe("the catalog process", () => {
  const databases: TestDatabase[] = [];
  let service: LoggedProcess | undefined;
  after(async () => {
    await service?.stop();
    await Promise.all(databases.map((d) => d.drop()));
  });

  it("seeds an empty database, serves books, search and covers, and exits 0 on SIGTERM", async () => {
    assert.ok(existsSync(bundle), "run `npm run build` first: the test starts the built bundle");
    const [own, bus] = [await createTestDatabase(), await createTestDatabase()];
    databases.push(own, bus);
    const base = Object.fromEntries(Object.entries(process.env).filter(([key]) => !INHERITED.test(key)));
    service = spawnLogged(process.execPath, ["--enable-source-maps", bundle], {
      cwd: join(repoRoot, "services", "catalog"),
      env: {
        ...base,
        DATABASE_URL: own.url,
        EVENT_BUS: "postgres",
        EVENT_BUS_DATABASE_URL: bus.url,
        HOST: "127.0.0.1",
        PORT: "0",
        METRICS_PORT: "0",
        LOG_FORMAT: "json",
        SHUTDOWN_GRACE_SECONDS: "20",
      },
    });
    await service.waitForLine(/"msg":"catalog started/, 120_000);
    const records = logRecords(service.lines);
    const seeded = records.find((r) => r.msg === "Catalog seeded");
    assert.ok(Number(seeded?.books) >= 300, "seeded before it started");
    const address = String(records.find((r) => String(r.msg).startsWith("catalog started"))?.address);
    await waitForGrpcServing(Number(address.split(":").at(-1)), 10_000);

    const client = createClient(catalogV1.CatalogServiceService, address, { logger, retry: false });
    try {
      const { categories } = await client.listCategories({});
      assert.ok(categories.length >= 10);
      const page = await client.listBooks({ categoryId: "mystery", orderBy: "", pageSize: 5, pageToken: "" });
      assert.equal(page.books.length, 5);
      assert.ok(page.nextPageToken !== "");
      const found = await client.searchBooks({ query: "hobit", categoryId: "", pageSize: 5, pageToken: "" });
      assert.equal(found.results[0]?.book?.title, "The Hobbit");
      const cover = await client.getBookCover({ bookId: found.results[0]?.book?.bookId ?? "" });
      assert.equal(cover.contentType, "image/svg+xml");
      assert.ok(cover.data.toString("utf8").includes("The Hobbit"));

      const stopping = Date.now();
      service.kill("SIGTERM");
      assert.deepEqual(await service.exited, { code: 0, signal: null }, service.lines.slice(-20).join("\n"));
      const took = Date.now() - stopping;
      process.stdout.write(`# stopped in ${took} ms\n`);
      assert.ok(took < 15_000, `stopped in ${took} ms, not after the 20 s grace period`);
    } finally {
      client.close();
    }
    const messages = logRecords(service.lines).map((r) => r.msg);
    assert.ok(messages.includes("Shut down gracefully"));
    assert.ok(!service.lines.join("\n").includes('"level":50'), "no error lines");
  });
});
