// SearchBooks over the seeded catalogue: ranking, typo tolerance, prefixes, highlighting,
// filters, pages, and bad queries.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { ClientError } from "@obfy/kit/client";
import type { catalogV1 } from "@obfy/protos";
import { type CatalogHarness, startCatalogHarness } from "./fixtures/catalog-harness.js";

function rejects(code: string, message?: string) {
  return (error: unknown) => {
    assert.ok(error instanceof ClientError, String(error));
    assert.equal(error.codeName, code, error.message);
    if (message !== undefined) assert.equal(error.details, message);
    return true;
  };
}

describe("SearchBooks", () => {
  let h: CatalogHarness;
  const search = (query: string, more: Partial<catalogV1.SearchBooksRequest> = {}) =>
    h.anonymous.searchBooks({ query, categoryId: "", pageSize: 10, pageToken: "", ...more });
  const titles = (response: catalogV1.SearchBooksResponse) => response.results.map((r) => r.book?.title);

  before(async () => {
    h = await startCatalogHarness();
  });
  after(() => h?.stop());

  test("a title typed out comes first; scores decrease", async () => {
    for (const [query, title] of [
      ["the hobbit", "The Hobbit"],
      ["Murder on the Orient Express", "Murder on the Orient Express"],
      ["dracula", "Dracula"],
      ["pride and prejudice", "Pride and Prejudice"],
    ] as const) {
      const response = await search(query);
      assert.equal(response.results[0]?.book?.title, title, `${query}: ${titles(response).join(" | ")}`);
      const scores = response.results.map((r) => r.score);
      assert.deepEqual(
        scores,
        [...scores].sort((a, b) => b - a),
        query,
      );
    }
  });

  test("title matches rank above author matches, which rank above description matches", async () => {
    // "Holmes" is in one title, and in descriptions of other Sherlock Holmes books.
    const holmes = await search("holmes");
    assert.equal(holmes.results[0]?.book?.title, "The Adventures of Sherlock Holmes");
    assert.ok(holmes.totalSize >= 4, titles(holmes).join(" | "));
    // "Christie" is only ever an author; as the last word it is also a prefix ("Christian").
    const christie = await search("christie");
    assert.deepEqual(
      christie.results.slice(0, 5).map((r) => r.book?.authors),
      Array.from({ length: 5 }, () => ["Agatha Christie"]),
      titles(christie).join(" | "),
    );
    assert.ok(christie.results.slice(5).every((r) => !r.book?.authors.includes("Agatha Christie")));
  });

  test("typo tolerance: misspelt words find what they meant", async () => {
    for (const [query, title] of [
      ["hobit", "The Hobbit"],
      ["sherlok holmes", "The Adventures of Sherlock Holmes"],
      ["frankenstien", "Frankenstein"],
      ["tolkein", "The Hobbit"],
      ["hitchiker galaxy", "The Hitchhiker's Guide to the Galaxy"],
    ] as const) {
      const response = await search(query);
      assert.ok(titles(response).includes(title), `${query}: ${titles(response).join(" | ")}`);
    }
    assert.equal((await search("hobit")).results[0]?.book?.title, "The Hobbit");
  });

  test("prefix matching of the last word", async () => {
    const tolk = await search("tolk");
    assert.ok(tolk.totalSize >= 5);
    assert.ok(
      tolk.results.every((r) => r.book?.authors.includes("J. R. R. Tolkien")),
      titles(tolk).join(" | "),
    );
    assert.ok(tolk.results.every((r) => r.matchedTerms.includes("Tolkien")));
    const dun = await search("dun");
    assert.ok(titles(dun).includes("Dune Messiah"), titles(dun).join(" | "));
  });

  test("matched terms are the words as written in the book", async () => {
    const response = await search("agatha christi");
    assert.ok(response.results.length > 0);
    for (const result of response.results) {
      assert.ok(
        result.matchedTerms.includes("Agatha") && result.matchedTerms.includes("Christie"),
        String(result.matchedTerms),
      );
    }
    const stemmed = await search("detectives");
    const hit = stemmed.results.find((r) => r.book?.title === "The Big Sleep");
    assert.ok(hit, titles(stemmed).join(" | "));
    assert.ok(hit.matchedTerms.includes("detective"), String(hit.matchedTerms));
  });

  test("when no book has every word, books with some of them are found", async () => {
    const response = await search("dragon submarine");
    const found = titles(response);
    assert.ok(found.includes("Red Dragon") && found.includes("The Hunt for Red October"), found.join(" | "));
  });

  test("category filter, pages without repeats, tokens bound to the query", async () => {
    const all = await search("war", { pageSize: 50 });
    const history = await search("war", { categoryId: "history", pageSize: 50 });
    assert.ok(history.totalSize > 0 && history.totalSize < all.totalSize);
    assert.ok(history.results.every((r) => r.book?.categoryIds.includes("history")));

    const seen: string[] = [];
    let pageToken = "";
    let pages = 0;
    do {
      const page = await search("war", { pageSize: 3, pageToken });
      assert.equal(page.totalSize, all.totalSize);
      seen.push(...page.results.map((r) => r.book?.bookId ?? ""));
      pageToken = page.nextPageToken;
      pages++;
    } while (pageToken !== "" && pages < 100);
    assert.deepEqual(seen, all.results.map((r) => r.book?.bookId).slice(0, seen.length));
    assert.equal(seen.length, Math.min(all.totalSize, 50) > 50 ? seen.length : all.totalSize);
    assert.equal(new Set(seen).size, seen.length);

    const first = await search("war", { pageSize: 3 });
    await assert.rejects(
      search("peace", { pageSize: 3, pageToken: first.nextPageToken }),
      rejects("INVALID_ARGUMENT", "Invalid page token"),
    );
    await assert.rejects(
      search("war", { categoryId: "history", pageSize: 3, pageToken: first.nextPageToken }),
      rejects("INVALID_ARGUMENT", "Invalid page token"),
    );
    await assert.rejects(search("war", { pageToken: "bm9wZQ" }), rejects("INVALID_ARGUMENT", "Invalid page token"));
  });

  test("bad queries: empty, too long, sizes, unknown category; no words is no result", async () => {
    await assert.rejects(search(""), rejects("INVALID_ARGUMENT", "query is required"));
    await assert.rejects(search("   "), rejects("INVALID_ARGUMENT", "query is required"));
    await assert.rejects(
      search("x".repeat(201)),
      rejects("INVALID_ARGUMENT", "Search query is too long (at most 200 characters)"),
    );
    assert.ok((await search("x".repeat(200))).totalSize >= 0);
    await assert.rejects(
      search("war", { pageSize: 51 }),
      rejects("INVALID_ARGUMENT", "page_size must be between 0 and 50"),
    );
    await assert.rejects(search("war", { categoryId: "nope" }), rejects("NOT_FOUND", "Category not found"));
    assert.deepEqual(await search("'\"%_*&|!():"), { results: [], nextPageToken: "", totalSize: 0 });
    assert.equal((await search("zzqqxxyy")).totalSize, 0);
  });

  test("a new book is found by its words, typos included", async () => {
    await h.client.createBook({
      book: {
        bookId: "",
        isbn: "9791234567896",
        title: "Quixotic Zebrafish",
        authors: ["Wilhelmina Farquharson"],
        description: "An unlikely tale.",
        categoryIds: ["science"],
        publicationYear: 2024,
        pageCount: 100,
        price: { currencyCode: "USD", amountMinor: 500 },
        coverUri: "",
        etag: "",
      },
    });
    assert.equal((await search("zebrafish")).results[0]?.book?.title, "Quixotic Zebrafish");
    assert.equal((await search("farquarson")).results[0]?.book?.title, "Quixotic Zebrafish");
  });
});
