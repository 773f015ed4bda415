// SQL injection strings through every text field a client can set: each is stored and returned
// exactly, or refused with INVALID_ARGUMENT; never INTERNAL, never run, and the tables stay.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { ClientError } from "@obfy/kit/client";
import { sql } from "@obfy/kit/db";
import { INJECTION_STRINGS, injectionCases } from "@obfy/kit/db/testing";
import { catalogV1 } from "@obfy/protos";
import { type CatalogHarness, sampleBook, startCatalogHarness, testIsbn } from "./fixtures/catalog-harness.js";

/** Fields CreateBook ignores (the Catalog sets them). */
const OUTPUT_ONLY = new Set(["bookId", "coverUri", "etag"]);
// ABORTED: an etag that is not the book's is refused as a stale one.
const ACCEPTABLE = new Set(["INVALID_ARGUMENT", "NOT_FOUND", "ALREADY_EXISTS", "ABORTED"]);

function refused(error: unknown, what: string): void {
  assert.ok(error instanceof ClientError, `${what}: ${String(error)}`);
  assert.ok(ACCEPTABLE.has(error.codeName), `${what}: ${error.codeName} ${error.details}`);
}

describe("injection strings", () => {
  let h: CatalogHarness;
  let before_: { books: number; tables: number };
  let isbn = 5000;

  async function counts() {
    const books = await h.db.selectFrom("books").select(sql<string>`count(*)`.as("n")).executeTakeFirstOrThrow();
    const tables = await sql<{ n: string }>`select count(*) as n from pg_tables where schemaname = 'public'`.execute(
      h.db,
    );
    return { books: Number(books.n), tables: Number(tables.rows[0]?.n) };
  }

  before(async () => {
    h = await startCatalogHarness();
    before_ = await counts();
  });
  after(() => h?.stop());

  test("CreateBook and UpdateBook store each text exactly or refuse it", async () => {
    const sample = catalogV1.CreateBookRequest.fromPartial({
      book: sampleBook(testIsbn(1), { authors: ["Ada Tester", "Second Author"], categoryIds: ["mystery", "thriller"] }),
    });
    let stored = 0;
    for (const { path, value, request } of injectionCases(sample)) {
      const book = {
        ...request.book,
        isbn: path === "book.isbn" ? (request.book?.isbn ?? "") : testIsbn(isbn++),
      } as catalogV1.Book;
      try {
        const created = (await h.client.createBook({ book })).book;
        stored++;
        const read = (await h.anonymous.getBook({ bookId: created?.bookId ?? "" })).book;
        const field = path.replace(/^book\./, "");
        const [name, index] = field.split(/\[|\]/);
        const got = read?.[name as keyof catalogV1.Book];
        if (OUTPUT_ONLY.has(field)) assert.notEqual(got, value, `${path} is output only: ignored`);
        else {
          assert.deepEqual(
            index === undefined ? got : (got as string[])[Number(index)],
            value,
            `${path} ${JSON.stringify(value)}`,
          );
        }
        // The same text through UpdateBook.
        const updated = await h.client.updateBook({ book: { ...book, bookId: created?.bookId ?? "" } });
        assert.equal(updated.book?.etag, created?.etag, "nothing changed");
      } catch (error) {
        if (error instanceof assert.AssertionError) throw error;
        refused(error, `${path} ${JSON.stringify(value).slice(0, 60)}`);
      }
    }
    assert.ok(stored > 0, "some strings are ordinary text and are stored");
  });

  test("SearchBooks, ListBooks, GetBook, BatchGetBooks and GetBookCover with every string", async () => {
    for (const value of INJECTION_STRINGS) {
      const calls: [string, () => Promise<unknown>][] = [
        ["search", () => h.anonymous.searchBooks({ query: value, categoryId: "", pageSize: 5, pageToken: "" })],
        [
          "search category",
          () => h.anonymous.searchBooks({ query: "war", categoryId: value, pageSize: 5, pageToken: "" }),
        ],
        [
          "search token",
          () => h.anonymous.searchBooks({ query: "war", categoryId: "", pageSize: 5, pageToken: value }),
        ],
        ["list category", () => h.anonymous.listBooks({ categoryId: value, orderBy: "", pageSize: 5, pageToken: "" })],
        ["list order", () => h.anonymous.listBooks({ categoryId: "", orderBy: value, pageSize: 5, pageToken: "" })],
        ["list token", () => h.anonymous.listBooks({ categoryId: "", orderBy: "", pageSize: 5, pageToken: value })],
        ["get", () => h.anonymous.getBook({ bookId: value })],
        ["cover", () => h.anonymous.getBookCover({ bookId: value })],
        ["batch", () => h.anonymous.batchGetBooks({ bookIds: [value, "1"] })],
      ];
      for (const [what, call] of calls) {
        try {
          const answer = (await call()) as { missingBookIds?: string[]; totalSize?: number };
          if (what === "batch") assert.deepEqual(answer.missingBookIds, [value]);
          if (what === "search") assert.ok((answer.totalSize ?? 0) <= before_.books + 1000);
        } catch (error) {
          if (error instanceof assert.AssertionError) throw error;
          refused(error, `${what} ${JSON.stringify(value).slice(0, 60)}`);
        }
      }
    }
  });

  test("ImportBooks reports each refused string per record and imports the others", async () => {
    const requests = INJECTION_STRINGS.map((title) => ({ book: sampleBook(testIsbn(isbn++), { title }) }));
    async function* stream() {
      yield* requests;
    }
    const response = await h.client.importBooks(stream(), { timeoutMs: 120_000 });
    assert.equal(response.createdCount + response.failedCount, requests.length);
    assert.ok(response.errors.every((e) => e.field === "title" && e.message.startsWith("title ")));
  });

  test("the tables are all still there, and only the created books were added", async () => {
    const now = await counts();
    assert.equal(now.tables, before_.tables);
    const added = await h.db
      .selectFrom("books")
      .select(sql<string>`count(*)`.as("n"))
      .where("isbn", "like", "979%")
      .executeTakeFirstOrThrow();
    assert.equal(now.books, before_.books + Number(added.n));
  });
});
