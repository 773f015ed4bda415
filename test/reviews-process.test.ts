// The Reviews deployable as a process: the built bundle with real PostgreSQL and the pg-boss
// bus, tokens checked against a test key, a Catalog stand-in in this process. It answers
// health and anonymous reads, says UNAVAILABLE (no stack trace) while the Catalog is away,
// refuses a shopper who did not receive the book, posts a verified buyer's review, and exits 0
// on SIGTERM.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { ClientError, createClient } from "@obfy/kit/client";
import { createLogger, NotFound, Unimplemented } from "@obfy/kit/core";
import { createDatabase, readDatabaseConfig } from "@obfy/kit/db";
import { createTestDatabase, type TestDatabase } from "@obfy/kit/db/testing";
import { createTestIdentity } from "@obfy/kit/dev";
import { createServer, defineService, type KitServer } from "@obfy/kit/server";
import { catalogV1, reviewsV1 } from "@obfy/protos";
import { type LoggedProcess, spawnLogged } from "./support/logged-process.js";
import { logRecords } from "./support/pages.js";
import { freePort, waitForGrpcServing } from "./support/readiness.js";

const repoRoot = fileURLToPath(new URL("..", import.meta.url));
const bundle = join(repoRoot, "services", "reviews", "dist", "main.bundle.js");
const logger = createLogger({ name: "reviews-process-test", level: "silent" });
const INHERITED =
  /^(TLS_|AUTH_|AUTHZ_|OTEL_|METRICS_|HEALTH_PORT$|PORT$|HOST$|LOG_|GRPC_|NODE_ENV$|DATABASE_|EVENT_BUS|CATALOG_|REVIEWS_)/;

/** A Catalog that knows book "42" only (GetBook), on `port`. */
async function startCatalog(port: number): Promise<KitServer> {
  const unimplemented = () => {
    throw new Unimplemented("Not in this stand-in");
  };
  const server = createServer({
    logger,
    services: [
      defineService(catalogV1.CatalogServiceService, {
        listCategories: unimplemented,
        listBooks: unimplemented,
        getBook(request) {
          if (request.bookId !== "42") throw new NotFound("Book not found");
          return { book: catalogV1.Book.fromPartial({ bookId: "42", title: "The Hitchhiker's Guide" }) };
        },
        batchGetBooks: unimplemented,
        searchBooks: unimplemented,
        getBookCover: unimplemented,
        createBook: unimplemented,
        updateBook: unimplemented,
        async importBooks() {
          return unimplemented();
        },
      }),
    ],
  });
  await server.listen("127.0.0.1", port);
  return server;
}

describe("the reviews process", () => {
  const databases: TestDatabase[] = [];
  let service: LoggedProcess | undefined;
  let catalog: KitServer | undefined;
  after(async () => {
    await service?.stop();
    await catalog?.shutdown();
    await Promise.all(databases.map((d) => d.drop()));
  });

  it("serves health and reviews, and exits 0 on SIGTERM", async () => {
    assert.ok(existsSync(bundle), "run `npm run build` first: the test starts the built bundle");
    const [own, bus] = [await createTestDatabase(), await createTestDatabase()];
    databases.push(own, bus);
    const identity = await createTestIdentity();
    const catalogPort = await freePort();
    const base = Object.fromEntries(Object.entries(process.env).filter(([key]) => !INHERITED.test(key)));
    service = spawnLogged(process.execPath, ["--enable-source-maps", bundle], {
      cwd: join(repoRoot, "services", "reviews"),
      env: {
        ...base,
        ...identity.env,
        DATABASE_URL: own.url,
        EVENT_BUS: "postgres",
        EVENT_BUS_DATABASE_URL: bus.url,
        CATALOG_ADDRESS: `127.0.0.1:${catalogPort}`,
        CATALOG_TIMEOUT_MS: "1000",
        HOST: "127.0.0.1",
        PORT: "0",
        METRICS_PORT: "0",
        LOG_FORMAT: "json",
        SHUTDOWN_GRACE_SECONDS: "20",
      },
    });
    await service.waitForLine(/"msg":"reviews started/, 90_000);
    const record = logRecords(service.lines).find((r) => String(r.msg).startsWith("reviews started"));
    const address = String(record?.address);
    await waitForGrpcServing(Number(address.split(":").at(-1)), 10_000);

    const client = createClient(reviewsV1.ReviewsServiceService, address, { logger, retry: false });
    const database = createDatabase<{ purchases: { account_id: string; book_id: string; order_id: string } }>({
      config: readDatabaseConfig({ DATABASE_URL: own.url }, { name: "reviews" }),
      logger,
    });
    try {
      const empty = await client.listReviews({ bookId: "42", orderBy: "", pageSize: 0, pageToken: "", authorId: "" });
      assert.deepEqual(empty, { reviews: [], nextPageToken: "", totalSize: 0 });
      const metadata = await identity.metadata({ subject: "reader-1", email: "arthur.dent@example.com" });
      const request = { bookId: "42", review: { rating: 5, text: "Don't panic <b>really</b>" } as reviewsV1.Review };
      const refused = (code: string, message: string) => (error: unknown) =>
        error instanceof ClientError && error.codeName === code && error.details === message;
      await assert.rejects(
        client.createReview(request, { metadata }),
        refused("UNAVAILABLE", "The Catalog is unavailable; try again"),
      );
      catalog = await startCatalog(catalogPort);
      // The Reviews' channel to the Catalog reconnects with backoff: UNAVAILABLE until it has.
      const deadline = Date.now() + 30_000;
      let outcome: unknown;
      do {
        outcome = await client.createReview(request, { metadata }).catch((error: unknown) => error);
        if (!refused("UNAVAILABLE", "The Catalog is unavailable; try again")(outcome)) break;
        await new Promise((resolve) => setTimeout(resolve, 200));
      } while (Date.now() < deadline);
      assert.ok(
        refused("FAILED_PRECONDITION", "Only shoppers who received this book can review it")(outcome),
        String(outcome),
      );
      await database.kysely
        .insertInto("purchases")
        .values({ account_id: "reader-1", book_id: "42", order_id: "order-1" })
        .execute();
      const review = (await client.createReview(request, { metadata })).review;
      assert.equal(review?.text, "Don't panic <b>really</b>", "stored as typed");
      assert.equal(review?.authorDisplayName, "arthur.dent");
      assert.equal(review?.verifiedPurchase, true);
      const listed = await client.listReviews({ bookId: "42", orderBy: "", pageSize: 0, pageToken: "", authorId: "" });
      assert.deepEqual(
        listed.reviews.map((r) => r.reviewId),
        [review?.reviewId],
      );
    } catch (error) {
      const warnings = service.lines.filter((line) => !line.includes('"level":30'));
      throw new Error(`${String(error)}\n${warnings.slice(-10).join("\n")}`, { cause: error });
    } finally {
      client.close();
      await database.close();
    }

    const stopping = Date.now();
    service.kill("SIGTERM");
    assert.deepEqual(await service.exited, { code: 0, signal: null }, service.lines.slice(-20).join("\n"));
    const took = Date.now() - stopping;
    process.stdout.write(`# stopped in ${took} ms\n`);
    assert.ok(took < 15_000, `stopped in ${took} ms, not after the 20 s grace period`);
    const messages = logRecords(service.lines).map((r) => r.msg);
    assert.ok(messages.includes("Shut down gracefully"));
    assert.ok(!service.lines.join("\n").includes('"level":50'), "no error lines");
    assert.ok(!service.lines.join("\n").includes("    at "), "no stack trace in the log");
  });
});
