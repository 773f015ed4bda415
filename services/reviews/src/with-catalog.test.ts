// The Reviews with the real Catalog (its own database, seeded) on one pg-boss bus: GetBook
// decides whether a book exists, and the Catalog's rating summary follows the Reviews' events.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { catalogService } from "@obfy/catalog";
import { ClientError, createClient, type ServiceClient } from "@obfy/kit/client";
import { createLogger } from "@obfy/kit/core";
import { createTestDatabase, type TestDatabase } from "@obfy/kit/db/testing";
import { startService } from "@obfy/kit/service";
import { catalogV1, reviewsV1 } from "@obfy/protos";
import { type ReviewsHarness, startReviewsHarness } from "./fixtures/reviews-harness.js";

describe("Reviews with the real Catalog", () => {
  let h: ReviewsHarness;
  let catalog: { stop(): Promise<void> } | undefined;
  let catalogClient: ServiceClient<typeof catalogV1.CatalogServiceService>;
  const databases: TestDatabase[] = [];
  const logger = createLogger({ name: "catalog", level: "silent" });

  before(async () => {
    const [own, bus] = await Promise.all([createTestDatabase(), createTestDatabase()]);
    databases.push(own, bus);
    const env = {
      DATABASE_URL: own.url,
      EVENT_BUS: "postgres",
      EVENT_BUS_DATABASE_URL: bus.url,
      EVENT_BUS_RETRY_DELAY_MS: "200",
      HOST: "127.0.0.1",
      PORT: "0",
      METRICS_PORT: "off",
      LOG_LEVEL: "silent",
      SHUTDOWN_GRACE_SECONDS: "5",
      DATABASE_CONNECT_TIMEOUT_MS: "15000",
      DATABASE_POOL_MAX: "4",
      EVENT_BUS_POOL_SIZE: "2",
    };
    const started = await startService(catalogService, { env, logger });
    catalog = started;
    catalogClient = createClient(catalogV1.CatalogServiceService, `127.0.0.1:${started.port}`, { logger });
    h = await startReviewsHarness({
      env: { CATALOG_ADDRESS: `127.0.0.1:${started.port}`, EVENT_BUS_DATABASE_URL: bus.url },
    });
  });
  after(async () => {
    catalogClient?.close();
    await h?.stop();
    await catalog?.stop();
    await Promise.all(databases.map((d) => d.drop()));
  });

  test("a review of a seeded book moves the Catalog's rating; an unknown book is NOT_FOUND", async () => {
    const [book] = (await catalogClient.listBooks({ categoryId: "", orderBy: "", pageSize: 1, pageToken: "" })).books;
    assert.ok(book, "the Catalog is seeded");
    const rating = async () => (await catalogClient.getBook({ bookId: book.bookId })).book?.rating;
    const until = async (what: string, ok: (r: catalogV1.RatingSummary | undefined) => boolean) => {
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline) {
        const r = await rating();
        if (ok(r)) return r;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      throw new Error(`timed out waiting for ${what}: ${JSON.stringify(await rating())}`);
    };
    const before = (await rating())?.count ?? 0;
    await h.grantPurchase("reader-1", book.bookId);
    await h.grantPurchase("reader-2", book.bookId);
    const first = (
      await h.client.createReview(
        { bookId: book.bookId, review: reviewsV1.Review.fromPartial({ rating: 5, text: "Loved it" }) },
        { metadata: await h.as("reader-1") },
      )
    ).review as reviewsV1.Review;
    await h.client.createReview(
      { bookId: book.bookId, review: reviewsV1.Review.fromPartial({ rating: 2, text: "Not for me" }) },
      { metadata: await h.as("reader-2") },
    );
    const two = await until("two reviews", (r) => r?.count === before + 2);
    assert.equal(two?.average, 3.5);
    await h.client.deleteReview(
      { bookId: book.bookId, reviewId: first.reviewId },
      { metadata: await h.as("reader-1") },
    );
    const one = await until("one review", (r) => r?.count === before + 1);
    assert.equal(one?.average, 2);

    await h.grantPurchase("reader-1", "999999");
    await assert.rejects(
      h.client.createReview(
        { bookId: "999999", review: reviewsV1.Review.fromPartial({ rating: 3 }) },
        { metadata: await h.as("reader-1") },
      ),
      (error: unknown) =>
        error instanceof ClientError && error.codeName === "NOT_FOUND" && error.details === "Book not found",
    );
  });
});
