import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { status } from "@grpc/grpc-js";
import { ClientError, createClient, createLogger, type KitServer, readServerConfig } from "@obfy/kit";
import { healthV1, legacyRecommendations, recommendationsV1 } from "@obfy/protos";
import { createRecommendationsServer } from "./app.js";
import { loadCatalog } from "./catalog.js";

const logger = createLogger({ name: "recommendations-test", level: "silent" });
let server: KitServer;
let target: string;

before(async () => {
  server = createRecommendationsServer({
    catalog: loadCatalog(),
    logger,
    config: readServerConfig({ HOST: "127.0.0.1", PORT: "0", SHUTDOWN_GRACE_SECONDS: "1" }),
  });
  const { port } = await server.listen();
  target = `127.0.0.1:${port}`;
});
after(() => server.shutdown());

function clientFor<const D extends Parameters<typeof createClient>[0]>(definition: D) {
  const client = createClient(definition, target, { logger, defaultTimeoutMs: 5000, retry: false });
  after(() => client.close());
  return client;
}

function rejectsWith(code: status, message: string) {
  return (error: unknown) => {
    assert.ok(error instanceof ClientError, `expected a ClientError, got ${String(error)}`);
    assert.equal(error.code, code);
    assert.equal(error.details, message);
    return true;
  };
}

describe("Recommendations server (v1 and legacy on one port)", () => {
  it("serves v1 Recommend: distinct books of the category, tagged with it", async () => {
    const client = clientFor(recommendationsV1.RecommendationsServiceService);
    const response = await client.recommend(
      recommendationsV1.RecommendRequest.fromPartial({
        userId: 1,
        category: recommendationsV1.BookCategory.BOOK_CATEGORY_SCIENCE_FICTION,
        maxResults: 2,
      }),
    );
    assert.equal(response.recommendations.length, 2);
    assert.equal(new Set(response.recommendations.map((b) => b.id)).size, 2);
    for (const book of response.recommendations) {
      assert.ok([4, 5, 6].includes(book.id));
      assert.equal(book.category, recommendationsV1.BookCategory.BOOK_CATEGORY_SCIENCE_FICTION);
    }
    const defaults = await client.recommend(
      recommendationsV1.RecommendRequest.fromPartial({
        category: recommendationsV1.BookCategory.BOOK_CATEGORY_MYSTERY,
      }),
    );
    assert.deepEqual(defaults.recommendations.map((b) => b.id).sort(), [1, 2, 3], "max_results unset means 3");
  });

  it("maps v1 validation failures to their status codes and messages", async () => {
    const client = clientFor(recommendationsV1.RecommendationsServiceService);
    await assert.rejects(
      client.recommend(recommendationsV1.RecommendRequest.fromPartial({ maxResults: 3 })),
      rejectsWith(
        status.INVALID_ARGUMENT,
        "category is required: set it to one of BOOK_CATEGORY_MYSTERY, BOOK_CATEGORY_SCIENCE_FICTION, BOOK_CATEGORY_SELF_HELP",
      ),
    );
    await assert.rejects(
      client.recommend(
        recommendationsV1.RecommendRequest.fromPartial({
          category: 17 as recommendationsV1.BookCategory,
          maxResults: 3,
        }),
      ),
      rejectsWith(status.NOT_FOUND, "Category not found"),
    );
    await assert.rejects(
      client.recommend(
        recommendationsV1.RecommendRequest.fromPartial({
          category: recommendationsV1.BookCategory.BOOK_CATEGORY_SELF_HELP,
          maxResults: -1,
        }),
      ),
      rejectsWith(status.INVALID_ARGUMENT, "max_results must be >= 0, got -1"),
    );
  });

  it("serves the tutorial's contract at /Recommendations/Recommend", async () => {
    const client = clientFor(legacyRecommendations.RecommendationsService);
    // The tutorial's request: user_id=1, category=SCIENCE_FICTION, max_results=3.
    const response = await client.recommend({
      userId: 1,
      category: legacyRecommendations.BookCategory.SCIENCE_FICTION,
      maxResults: 3,
    });
    assert.deepEqual(response.recommendations.map((b) => b.title).sort(), [
      "Ender's Game",
      "The Dune Chronicles",
      "The Hitchhiker's Guide to the Galaxy",
    ]);
    const mystery = await client.recommend({
      userId: 1,
      category: legacyRecommendations.BookCategory.MYSTERY,
      maxResults: 1,
    });
    assert.equal(mystery.recommendations.length, 1);
    assert.ok([1, 2, 3].includes(mystery.recommendations[0]?.id ?? 0));
    const none = await client.recommend({
      userId: 1,
      category: legacyRecommendations.BookCategory.SELF_HELP,
      maxResults: 0,
    });
    assert.deepEqual(none.recommendations, []);
    await assert.rejects(
      client.recommend({ userId: 1, category: 3 as legacyRecommendations.BookCategory, maxResults: 3 }),
      rejectsWith(status.NOT_FOUND, "Category not found"),
    );
    await assert.rejects(
      client.recommend({ userId: 1, category: legacyRecommendations.BookCategory.MYSTERY, maxResults: -1 }),
      rejectsWith(status.INVALID_ARGUMENT, "max_results must be >= 0, got -1"),
    );
  });

  it("reports SERVING for the server and both services over grpc.health.v1", async () => {
    const client = clientFor(healthV1.HealthService);
    for (const service of ["", "bookstore.recommendations.v1.RecommendationsService", "Recommendations"]) {
      const response = await client.check({ service });
      assert.equal(response.status, healthV1.HealthCheckResponse_ServingStatus.SERVING, `health of "${service}"`);
    }
  });
});
