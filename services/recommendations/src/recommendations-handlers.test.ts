import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { status } from "@grpc/grpc-js";
import { GrpcError } from "@obfy/kit";
import { legacyRecommendations, recommendationsV1 } from "@obfy/protos";
import { loadCatalog } from "./catalog.js";
import { createSeededRandom } from "./fixtures/seeded-random.js";
import { createLegacyRecommendationsHandlers } from "./legacy-recommendations-handlers.js";
import { createRecommendationsV1Handlers } from "./recommendations-v1-handlers.js";

const catalog = loadCatalog();
const V1 = recommendationsV1.BookCategory;
const Legacy = legacyRecommendations.BookCategory;
const MYSTERY_IDS = [1, 2, 3];
const SCIENCE_FICTION_IDS = [4, 5, 6];
const SELF_HELP_IDS = [7, 8, 9];

function grpcError(code: status, message: string) {
  return (error: unknown) => {
    assert.ok(error instanceof GrpcError, `expected a GrpcError, got ${String(error)}`);
    assert.equal(error.code, code);
    assert.equal(error.message, message);
    return true;
  };
}

const ids = (books: readonly { id: number }[]) => books.map((b) => b.id);
const sortedIds = (books: readonly { id: number }[]) => ids(books).sort((a, b) => a - b);

describe("v1 Recommend", () => {
  const handlers = createRecommendationsV1Handlers({ catalog, random: createSeededRandom(7) });
  const request = (partial: Partial<recommendationsV1.RecommendRequest>) =>
    recommendationsV1.RecommendRequest.fromPartial({ userId: 1, ...partial });

  it("returns one mystery book for max_results=1 (the tutorial's unit test)", async () => {
    const response = await handlers.recommend(request({ category: V1.BOOK_CATEGORY_MYSTERY, maxResults: 1 }));
    assert.equal(response.recommendations.length, 1);
    const [book] = response.recommendations;
    assert.ok(book && MYSTERY_IDS.includes(book.id));
    assert.equal(book.category, V1.BOOK_CATEGORY_MYSTERY);
    assert.equal(book.title, catalog.mystery.find((b) => b.id === book.id)?.title);
  });

  it("returns distinct books of the requested category, each tagged with it", async () => {
    for (const [category, expected] of [
      [V1.BOOK_CATEGORY_MYSTERY, MYSTERY_IDS],
      [V1.BOOK_CATEGORY_SCIENCE_FICTION, SCIENCE_FICTION_IDS],
      [V1.BOOK_CATEGORY_SELF_HELP, SELF_HELP_IDS],
    ] as const) {
      const response = await handlers.recommend(request({ category, maxResults: 3 }));
      assert.deepEqual(sortedIds(response.recommendations), expected);
      for (const book of response.recommendations) assert.equal(book.category, category);
    }
  });

  it("treats max_results 0 (unset) as the default of 3 and caps large values at the category size", async () => {
    const unset = await handlers.recommend(request({ category: V1.BOOK_CATEGORY_SELF_HELP }));
    assert.deepEqual(sortedIds(unset.recommendations), SELF_HELP_IDS);
    const two = await handlers.recommend(request({ category: V1.BOOK_CATEGORY_SELF_HELP, maxResults: 2 }));
    assert.equal(two.recommendations.length, 2);
    const many = await handlers.recommend(request({ category: V1.BOOK_CATEGORY_SELF_HELP, maxResults: 2 ** 31 - 1 }));
    assert.deepEqual(sortedIds(many.recommendations), SELF_HELP_IDS);
  });

  it("rejects an unset category with INVALID_ARGUMENT naming the choices", async () => {
    await assert.rejects(
      handlers.recommend(request({ category: V1.BOOK_CATEGORY_UNSPECIFIED, maxResults: 3 })),
      grpcError(
        status.INVALID_ARGUMENT,
        "category is required: set it to one of BOOK_CATEGORY_MYSTERY, BOOK_CATEGORY_SCIENCE_FICTION, BOOK_CATEGORY_SELF_HELP",
      ),
    );
  });

  it("rejects an unknown category number with NOT_FOUND", async () => {
    for (const category of [4, 99, -1]) {
      await assert.rejects(
        handlers.recommend(request({ category: category as recommendationsV1.BookCategory, maxResults: 3 })),
        grpcError(status.NOT_FOUND, "Category not found"),
      );
    }
  });

  it("rejects a negative max_results with INVALID_ARGUMENT", async () => {
    await assert.rejects(
      handlers.recommend(request({ category: V1.BOOK_CATEGORY_MYSTERY, maxResults: -1 })),
      grpcError(status.INVALID_ARGUMENT, "max_results must be >= 0, got -1"),
    );
  });

  it("checks the category before max_results", async () => {
    await assert.rejects(
      handlers.recommend(request({ category: 42 as recommendationsV1.BookCategory, maxResults: -1 })),
      grpcError(status.NOT_FOUND, "Category not found"),
    );
  });

  it("covers every book of a category over repeated calls", async () => {
    const seen = new Set<number>();
    for (let i = 0; i < 100 && seen.size < 3; i++) {
      const response = await handlers.recommend(request({ category: V1.BOOK_CATEGORY_SCIENCE_FICTION, maxResults: 1 }));
      for (const id of ids(response.recommendations)) seen.add(id);
    }
    assert.deepEqual([...seen].sort(), SCIENCE_FICTION_IDS);
  });

  it("draws from the injected random source", async () => {
    const first = createRecommendationsV1Handlers({ catalog, random: () => 0 });
    const last = createRecommendationsV1Handlers({ catalog, random: () => 0.999 });
    const req = request({ category: V1.BOOK_CATEGORY_MYSTERY, maxResults: 1 });
    assert.deepEqual(ids((await first.recommend(req)).recommendations), [1]);
    assert.deepEqual(ids((await last.recommend(req)).recommendations), [3]);
  });
});

describe("legacy Recommend (the tutorial's contract)", () => {
  const handlers = createLegacyRecommendationsHandlers({ catalog, random: createSeededRandom(11) });
  const request = (partial: Partial<legacyRecommendations.RecommendationRequest>) =>
    legacyRecommendations.RecommendationRequest.fromPartial({ userId: 1, ...partial });

  it("returns one mystery book for max_results=1, with MYSTERY = 0 a real category", async () => {
    const response = await handlers.recommend(request({ category: Legacy.MYSTERY, maxResults: 1 }));
    assert.equal(response.recommendations.length, 1);
    const [book] = response.recommendations;
    assert.ok(book && MYSTERY_IDS.includes(book.id));
    assert.deepEqual(Object.keys(book).sort(), ["id", "title"]);
  });

  it("serves all three categories with distinct books", async () => {
    for (const [category, expected] of [
      [Legacy.MYSTERY, MYSTERY_IDS],
      [Legacy.SCIENCE_FICTION, SCIENCE_FICTION_IDS],
      [Legacy.SELF_HELP, SELF_HELP_IDS],
    ] as const) {
      const response = await handlers.recommend(request({ category, maxResults: 10 }));
      assert.deepEqual(sortedIds(response.recommendations), expected);
    }
  });

  it("returns zero books for max_results 0, as the tutorial's min() did", async () => {
    const response = await handlers.recommend(request({ category: Legacy.SELF_HELP, maxResults: 0 }));
    assert.deepEqual(response.recommendations, []);
  });

  it("rejects an unknown category with NOT_FOUND and a negative max_results with INVALID_ARGUMENT", async () => {
    await assert.rejects(
      handlers.recommend(request({ category: 3 as legacyRecommendations.BookCategory, maxResults: 1 })),
      grpcError(status.NOT_FOUND, "Category not found"),
    );
    await assert.rejects(
      handlers.recommend(request({ category: Legacy.MYSTERY, maxResults: -1 })),
      grpcError(status.INVALID_ARGUMENT, "max_results must be >= 0, got -1"),
    );
  });
});
