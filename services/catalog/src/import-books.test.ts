// ImportBooks: a client stream of books, written in batches, with per-record errors.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { ClientError } from "@obfy/kit/client";
import type { catalogV1 } from "@obfy/protos";
import { IMPORT_BATCH, MAX_IMPORT_ERRORS } from "./catalog-handlers.js";
import { type CatalogHarness, sampleBook, startCatalogHarness, testIsbn } from "./fixtures/catalog-harness.js";
import { loadCatalogData } from "./seed.js";

const data = loadCatalogData();
// Hundreds of records on a machine shared with other test files: far more than the default 5 s.
const SLOW = { timeoutMs: 120_000 };

async function* streamOf(requests: readonly catalogV1.ImportBooksRequest[]) {
  yield* requests;
}

describe("ImportBooks", () => {
  let h: CatalogHarness;
  before(async () => {
    h = await startCatalogHarness();
  });
  after(() => h?.stop());

  test("creates new books, updates existing ISBNs, and reports each bad record with its field", async () => {
    const seeded = data.books[2];
    assert.ok(seeded !== undefined);
    const requests: catalogV1.ImportBooksRequest[] = [
      { book: sampleBook(testIsbn(1), { title: "Imported One" }) },
      { book: sampleBook(testIsbn(2), { pageCount: 0 }) },
      { book: sampleBook(seeded.isbn, { title: seeded.title, description: "Updated by an import." }) },
      { book: undefined },
      { book: sampleBook("9780000000000") },
      { book: sampleBook(testIsbn(3), { categoryIds: ["cookery"] }) },
      // The same ISBN twice in one stream: created, then updated.
      { book: sampleBook(testIsbn(4), { title: "First" }) },
      { book: sampleBook(testIsbn(4), { title: "Second" }) },
      ...Array.from({ length: IMPORT_BATCH * 2 + 7 }, (_, i) => ({ book: sampleBook(testIsbn(100 + i)) })),
    ];
    const response = await h.client.importBooks(streamOf(requests), SLOW);
    assert.equal(response.createdCount, 2 + IMPORT_BATCH * 2 + 7);
    assert.equal(response.updatedCount, 2);
    assert.equal(response.failedCount, 4);
    assert.deepEqual(
      response.errors.map((e) => [e.index, e.isbn, e.field, e.message]),
      [
        [1, testIsbn(2), "page_count", "page_count must be between 1 and 50000"],
        [3, "", "book", "book is required"],
        [4, "9780000000000", "isbn", "isbn has a wrong check digit"],
        [5, testIsbn(3), "category_ids[0]", "category_ids[0] is not a category"],
      ],
    );
    const updated = await h.db
      .selectFrom("books")
      .select(["id", "description"])
      .where("isbn", "=", seeded.isbn)
      .executeTakeFirstOrThrow();
    assert.deepEqual(updated, { id: "3", description: "Updated by an import." });
    const twice = await h.db.selectFrom("books").select("title").where("isbn", "=", testIsbn(4)).execute();
    assert.deepEqual(twice, [{ title: "Second" }]);
  });

  test("importing the same books again updates them and creates nothing", async () => {
    const requests = Array.from({ length: 30 }, (_, i) => ({ book: sampleBook(testIsbn(1000 + i)) }));
    const first = await h.client.importBooks(streamOf(requests), SLOW);
    assert.deepEqual([first.createdCount, first.updatedCount, first.failedCount], [30, 0, 0]);
    const again = await h.client.importBooks(streamOf(requests), SLOW);
    assert.deepEqual([again.createdCount, again.updatedCount, again.failedCount], [0, 30, 0]);
  });

  test("two imports racing for the same new ISBNs: every book once, no record lost", async () => {
    const requests = Array.from({ length: 150 }, (_, i) => ({ book: sampleBook(testIsbn(2000 + i)) }));
    const [a, b] = await Promise.all([
      h.client.importBooks(streamOf(requests), SLOW),
      h.client.importBooks(streamOf(requests), SLOW),
    ]);
    assert.equal(a.failedCount + b.failedCount, 0, JSON.stringify([a.errors, b.errors]));
    assert.equal(a.createdCount + b.createdCount, 150);
    assert.equal(a.updatedCount + b.updatedCount, 150);
    const rows = await h.db
      .selectFrom("books")
      .select("isbn")
      .where(
        "isbn",
        "in",
        requests.map((r) => r.book.isbn),
      )
      .execute();
    assert.equal(rows.length, 150);
  });

  test("at most the first 1,000 errors are returned; failed_count counts all", async () => {
    const requests = Array.from({ length: MAX_IMPORT_ERRORS + 5 }, () => ({ book: sampleBook("123") }));
    const response = await h.client.importBooks(streamOf(requests), SLOW);
    assert.equal(response.failedCount, MAX_IMPORT_ERRORS + 5);
    assert.equal(response.errors.length, MAX_IMPORT_ERRORS);
    assert.equal(response.errors.at(-1)?.index, MAX_IMPORT_ERRORS - 1);
  });

  test("admin only", async () => {
    await assert.rejects(
      h.anonymous.importBooks(streamOf([{ book: sampleBook(testIsbn(9)) }]), { metadata: h.shopper }),
      (error: unknown) => {
        assert.ok(error instanceof ClientError);
        assert.equal(error.codeName, "PERMISSION_DENIED");
        return true;
      },
    );
  });
});
