import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { recommendationsV1 } from "@obfy/protos";
import { loadCatalog } from "./catalog.js";
import type { BookRecord, ReadModelSnapshot } from "./db/read-model.js";
import { buildModel, modelFromBooksFile, rankingScore } from "./model.js";

const fallback = loadCatalog();
const { BookCategory } = recommendationsV1;

function book(bookId: string, categoryIds: string[]): BookRecord {
  return {
    bookId,
    isbn: "",
    title: `Title ${bookId}`,
    authors: ["A"],
    categoryIds,
    publicationYear: 2000,
    priceCurrency: "USD",
    priceMinor: 100,
    version: 1,
  };
}

function snapshot(partial: Partial<ReadModelSnapshot>): ReadModelSnapshot {
  return { revision: 1, books: [], categories: [], ratings: [], reviews: [], purchases: [], pairs: [], ...partial };
}

describe("the in-memory model", () => {
  it("ranks by the shrunk average, in groups of equal score", () => {
    const model = buildModel(
      snapshot({
        books: [book("1", ["x"]), book("2", ["x"]), book("3", ["x"]), book("4", ["x"]), book("5", ["y"])],
        ratings: [
          { bookId: "1", average: 5, count: 1 },
          { bookId: "2", average: 4.5, count: 20 },
          { bookId: "4", average: 2, count: 3 },
        ],
      }),
      fallback,
    );
    const groups = model.ranked("x").map((group) => group.map((b) => b.bookId));
    assert.deepEqual(groups, [["2"], ["1"], ["3"], ["4"]], "20 reviews at 4.5, one at 5, none, three at 2");
    assert.equal(model.book("3")?.score, rankingScore(0, 0));
    assert.deepEqual(model.ranked("").flat().length, 5);
    assert.deepEqual(model.ranked("z"), []);
    assert.ok(model.hasCategory("y") && !model.hasCategory("z"));
  });

  it("answers Recommend from catalogue books with int32 ids, and from the file for an empty tutorial category", () => {
    const model = buildModel(
      snapshot({ books: [book("10", ["mystery"]), book("x-1", ["mystery"]), book("99999999999", ["mystery"])] }),
      fallback,
    );
    const mystery = model.v1ByCategory.get(BookCategory.BOOK_CATEGORY_MYSTERY) ?? [];
    assert.deepEqual(
      mystery.map((b) => b.id),
      [10],
    );
    const sf = model.v1ByCategory.get(BookCategory.BOOK_CATEGORY_SCIENCE_FICTION) ?? [];
    assert.deepEqual(
      sf.map((b) => b.id),
      [4, 5, 6],
    );
    assert.equal(model.v1ByCategory.get(BookCategory.BOOK_CATEGORY_UNSPECIFIED), undefined);
  });

  it("sorts bought-together by orders and ignores books it does not have", () => {
    const model = buildModel(
      snapshot({
        books: [book("1", ["x"]), book("2", ["x"]), book("3", ["x"])],
        pairs: [
          { bookId: "1", otherBookId: "2", orders: 1 },
          { bookId: "1", otherBookId: "3", orders: 4 },
          { bookId: "1", otherBookId: "gone", orders: 9 },
        ],
        reviews: [{ userId: "u", bookId: "2" }],
        purchases: [{ userId: "u", bookId: "3" }],
      }),
      fallback,
    );
    assert.deepEqual(
      model.boughtWith("1").map((w) => [w.book.bookId, w.orders]),
      [
        ["3", 4],
        ["2", 1],
      ],
    );
    assert.deepEqual([...model.reviewedBy("u")], ["2"]);
    assert.deepEqual([...model.boughtBy("u")], ["3"]);
    assert.equal(model.reviewedBy("nobody").size, 0);
  });

  it("is the tutorial's nine books when built from the file", () => {
    const model = modelFromBooksFile(fallback);
    assert.equal(model.source, "books-file");
    assert.equal(model.bookCount, 9);
    assert.deepEqual(model.book("4")?.categoryIds, ["science-fiction"]);
    assert.equal(model.book("4")?.price, undefined);
  });
});
