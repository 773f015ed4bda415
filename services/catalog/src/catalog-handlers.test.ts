// The CatalogService against real PostgreSQL (and the pg-boss bus), through gRPC, over the
// seeded catalogue.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { ClientError } from "@obfy/kit/client";
import { readStatusDetails } from "@obfy/kit/core";
import { googleRpcErrorDetails } from "@obfy/protos";
import { type CatalogHarness, sampleBook, startCatalogHarness, testIsbn } from "./fixtures/catalog-harness.js";
import { loadCatalogData } from "./seed.js";

const data = loadCatalogData();

function rejects(code: string, message?: string) {
  return (error: unknown) => {
    assert.ok(error instanceof ClientError, String(error));
    assert.equal(error.codeName, code, error.message);
    if (message !== undefined) assert.equal(error.details, message);
    return true;
  };
}

const TUTORIAL = [
  "The Maltese Falcon",
  "Murder on the Orient Express",
  "The Hound of the Baskervilles",
  "The Hitchhiker's Guide to the Galaxy",
  "Ender's Game",
  "The Dune Chronicles",
  "The 7 Habits of Highly Effective People",
  "How to Win Friends and Influence People",
  "Man's Search for Meaning",
];

describe("CatalogService", () => {
  let h: CatalogHarness;
  let isbn = 1;
  const nextIsbn = () => testIsbn(isbn++);

  before(async () => {
    h = await startCatalogHarness();
  });
  after(() => h?.stop());

  test("ListCategories: at least ten in display order with their book counts, the tutorial's three among them", async () => {
    const { categories } = await h.anonymous.listCategories({});
    assert.ok(categories.length >= 10);
    assert.deepEqual(
      categories.map((c) => c.categoryId),
      data.categories.map((c) => c.categoryId),
    );
    for (const id of ["mystery", "science-fiction", "self-help"]) {
      assert.ok(categories.some((c) => c.categoryId === id));
    }
    for (const category of categories) {
      const expected = data.books.filter((b) => b.categoryIds.includes(category.categoryId)).length;
      assert.equal(category.bookCount, expected, category.categoryId);
      assert.ok(category.bookCount > 0 && category.displayName !== "" && category.description !== "");
    }
  });

  test("the seed: at least 300 books, the tutorial's nine keep ids 1 to 9, book n has ISBN n of the series", async () => {
    assert.ok(data.books.length >= 300);
    const { books, missingBookIds } = await h.anonymous.batchGetBooks({
      bookIds: TUTORIAL.map((_, i) => String(i + 1)),
    });
    assert.deepEqual(missingBookIds, []);
    assert.deepEqual(
      books.map((b) => b.title),
      TUTORIAL,
    );
    const last = (await h.anonymous.getBook({ bookId: String(data.books.length) })).book;
    assert.equal(last?.isbn, `978${String(data.books.length).padStart(9, "0")}${last?.isbn.at(-1)}`);
    assert.equal(last?.title, data.books.at(-1)?.title);
  });

  test("ListBooks pages through every book once in each ordering, with total_size", async () => {
    const orderings: [string, (a: { [k: string]: unknown }, b: { [k: string]: unknown }) => boolean][] = [
      ["", (a, b) => String(a.title).toLowerCase() <= String(b.title).toLowerCase()],
      ["publication_year", (a, b) => Number(a.publicationYear) <= Number(b.publicationYear)],
      ["-publication_year", (a, b) => Number(a.publicationYear) >= Number(b.publicationYear)],
      ["price", (a, b) => Number(a.price) <= Number(b.price)],
      ["-price", (a, b) => Number(a.price) >= Number(b.price)],
      ["-rating", (a, b) => Number(a.rating) >= Number(b.rating)],
    ];
    for (const [orderBy, inOrder] of orderings) {
      const seen: { [k: string]: unknown }[] = [];
      let pageToken = "";
      let pages = 0;
      do {
        const page = await h.anonymous.listBooks({ categoryId: "", orderBy, pageSize: 97, pageToken });
        assert.equal(page.totalSize, data.books.length + (await extraBooks()));
        seen.push(
          ...page.books.map((b) => ({
            id: b.bookId,
            title: b.title,
            publicationYear: b.publicationYear,
            price: b.price?.amountMinor,
            rating: b.rating?.average,
          })),
        );
        pageToken = page.nextPageToken;
        pages++;
      } while (pageToken !== "" && pages < 20);
      assert.equal(new Set(seen.map((b) => b.id)).size, seen.length, `${orderBy}: no book twice`);
      assert.equal(seen.length, data.books.length + (await extraBooks()), `${orderBy}: every book`);
      for (let i = 1; i < seen.length; i++) {
        assert.ok(inOrder(seen[i - 1] ?? {}, seen[i] ?? {}), `${orderBy}: ${JSON.stringify(seen.slice(i - 1, i + 1))}`);
      }
    }
  });

  async function extraBooks(): Promise<number> {
    const rows = await h.db.selectFrom("books").select("id").where("isbn", "like", "979%").execute();
    return rows.length;
  }

  test("ListBooks filters by category, and refuses unknown categories, orderings, sizes and foreign tokens", async () => {
    const first = await h.anonymous.listBooks({
      categoryId: "horror",
      orderBy: "-publication_year",
      pageSize: 5,
      pageToken: "",
    });
    const horror = data.books.filter((b) => b.categoryIds.includes("horror"));
    assert.equal(first.totalSize, horror.length);
    assert.ok(first.books.every((b) => b.categoryIds.includes("horror")));
    assert.equal(first.books[0]?.publicationYear, Math.max(...horror.map((b) => b.publicationYear)));
    const second = await h.anonymous.listBooks({
      categoryId: "horror",
      orderBy: "-publication_year",
      pageSize: 5,
      pageToken: first.nextPageToken,
    });
    assert.equal(second.books.length, 5);
    assert.ok(second.books.every((b) => !first.books.some((f) => f.bookId === b.bookId)));

    await assert.rejects(
      h.anonymous.listBooks({ categoryId: "poetry-slam", orderBy: "", pageSize: 0, pageToken: "" }),
      rejects("NOT_FOUND", "Category not found"),
    );
    await assert.rejects(
      h.anonymous.listBooks({ categoryId: "", orderBy: "random()", pageSize: 0, pageToken: "" }),
      rejects("INVALID_ARGUMENT"),
    );
    await assert.rejects(
      h.anonymous.listBooks({ categoryId: "", orderBy: "", pageSize: 101, pageToken: "" }),
      rejects("INVALID_ARGUMENT", "page_size must be between 0 and 100"),
    );
    // A token is bound to its filter and ordering.
    for (const request of [
      { categoryId: "mystery", orderBy: "-publication_year" },
      { categoryId: "horror", orderBy: "price" },
    ]) {
      await assert.rejects(
        h.anonymous.listBooks({ ...request, pageSize: 5, pageToken: first.nextPageToken }),
        rejects("INVALID_ARGUMENT", "Invalid page token"),
      );
    }
    const forged = Buffer.from(JSON.stringify({ o: "-publication_year", c: "horror", k: "1999", i: "3" })).toString(
      "base64url",
    );
    for (const pageToken of ["garbage!", "eyJ9", forged, Buffer.from("[]").toString("base64url"), "x".repeat(2000)]) {
      await assert.rejects(
        h.anonymous.listBooks({ categoryId: "horror", orderBy: "-publication_year", pageSize: 5, pageToken }),
        rejects("INVALID_ARGUMENT", "Invalid page token"),
      );
    }
  });

  test("GetBook and BatchGetBooks", async () => {
    const book = (await h.anonymous.getBook({ bookId: "1" })).book;
    assert.equal(book?.title, "The Maltese Falcon");
    assert.deepEqual(book?.authors, ["Dashiell Hammett"]);
    assert.equal(book?.price?.currencyCode, "USD");
    assert.ok((book?.price?.amountMinor ?? 0) > 0);
    assert.equal(book?.coverUri, "/v1/books/1/cover");
    assert.deepEqual(book?.rating, { average: 0, count: 0 });
    assert.ok(book?.etag !== "");
    for (const bookId of ["0", "999999", "abc", "1 or 1=1", "-1", "99999999999999999999999"]) {
      await assert.rejects(h.anonymous.getBook({ bookId }), rejects("NOT_FOUND", "Book not found"), bookId);
    }
    const batch = await h.anonymous.batchGetBooks({ bookIds: ["3", "nope", "1", "3", "999999"] });
    assert.deepEqual(
      batch.books.map((b) => b.bookId),
      ["3", "1"],
    );
    assert.deepEqual(batch.missingBookIds, ["nope", "999999"]);
    await assert.rejects(h.anonymous.batchGetBooks({ bookIds: [] }), rejects("INVALID_ARGUMENT"));
    await assert.rejects(
      h.anonymous.batchGetBooks({ bookIds: Array.from({ length: 101 }, (_, i) => String(i + 1)) }),
      rejects("INVALID_ARGUMENT", "book_ids must hold 1 to 100 ids"),
    );
  });

  test("GetBookCover: an SVG of the title and authors, escaped", async () => {
    const cover = await h.anonymous.getBookCover({ bookId: "4" });
    assert.equal(cover.contentType, "image/svg+xml");
    const svg = cover.data.toString("utf8");
    assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    assert.ok(svg.includes("Douglas Adams"));
    assert.ok(svg.includes("Hitchhiker&#39;s"));
    const created = await h.client.createBook({
      book: sampleBook(nextIsbn(), { title: `</text><script>alert("x")</script>`, authors: ["<b>Bold & Co</b>"] }),
    });
    const hostile = (await h.anonymous.getBookCover({ bookId: created.book?.bookId ?? "" })).data.toString("utf8");
    assert.ok(!hostile.includes("<script"), hostile);
    assert.ok(!hostile.includes("<b>"));
    assert.ok(hostile.includes("&#60;script&#62;"));
    await assert.rejects(h.anonymous.getBookCover({ bookId: "x" }), rejects("NOT_FOUND", "Book not found"));
  });

  test("CreateBook: admin only; checks every field; a taken ISBN is ALREADY_EXISTS", async () => {
    const book = sampleBook(nextIsbn(), { categoryIds: ["fantasy", "classics"] });
    await assert.rejects(h.anonymous.createBook({ book }), rejects("UNAUTHENTICATED"));
    await assert.rejects(h.anonymous.createBook({ book }, { metadata: h.shopper }), rejects("PERMISSION_DENIED"));
    const created = (await h.client.createBook({ book: { ...book, bookId: "1", etag: "x", coverUri: "/evil" } })).book;
    assert.ok(Number(created?.bookId) > data.books.length, "a new id after the seeded ones");
    assert.equal(created?.coverUri, `/v1/books/${created?.bookId}/cover`);
    assert.deepEqual(created?.categoryIds, ["fantasy", "classics"]);
    assert.deepEqual((await h.anonymous.getBook({ bookId: created?.bookId ?? "" })).book, created);
    await assert.rejects(
      h.client.createBook({ book: sampleBook(book.isbn, { title: "Another" }) }),
      rejects("ALREADY_EXISTS", "A book with this ISBN already exists"),
    );
    await assert.rejects(
      h.client.createBook({ book: sampleBook(data.books[0]?.isbn ?? "") }),
      rejects("ALREADY_EXISTS", "A book with this ISBN already exists"),
    );

    const cases: [Partial<Parameters<typeof sampleBook>[1]>, string, string][] = [
      [{ isbn: "" }, "isbn", "isbn is required"],
      [{ isbn: "978-0-00-000001-9" }, "isbn", "isbn must be 13 digits without hyphens"],
      [{ isbn: "9780000000010" }, "isbn", "isbn has a wrong check digit"],
      [{ title: "  " }, "title", "title is required"],
      [{ title: "x".repeat(301) }, "title", "title must be at most 300 characters"],
      [{ title: "Tab\there" }, "title", "title must not contain control characters"],
      [{ authors: [] }, "authors", "authors must hold 1 to 10 names"],
      [{ authors: Array.from({ length: 11 }, () => "A") }, "authors", "authors must hold 1 to 10 names"],
      [{ authors: ["Good", ""] }, "authors[1]", "authors[1] is required"],
      [{ description: "x".repeat(5001) }, "description", "description must be at most 5000 characters"],
      [{ categoryIds: [] }, "category_ids", "category_ids must hold 1 to 5 categories"],
      [{ categoryIds: ["mystery", "cookery"] }, "category_ids[1]", "category_ids[1] is not a category"],
      [{ categoryIds: ["mystery", "mystery"] }, "category_ids[1]", "category_ids must name each category once"],
      [
        { publicationYear: 1449 },
        "publication_year",
        `publication_year must be between 1450 and ${new Date().getUTCFullYear() + 1}`,
      ],
      [
        { publicationYear: 0 },
        "publication_year",
        `publication_year must be between 1450 and ${new Date().getUTCFullYear() + 1}`,
      ],
      [{ pageCount: 0 }, "page_count", "page_count must be between 1 and 50000"],
      [{ price: undefined }, "price", "price is required"],
      [{ price: { currencyCode: "EUR", amountMinor: 100 } }, "price.currency_code", "price.currency_code must be USD"],
      [
        { price: { currencyCode: "USD", amountMinor: 0 } },
        "price.amount_minor",
        "price.amount_minor must be between 1 and 10000000",
      ],
      [
        { price: { currencyCode: "USD", amountMinor: -5 } },
        "price.amount_minor",
        "price.amount_minor must be between 1 and 10000000",
      ],
      [
        { price: { currencyCode: "USD", amountMinor: 10_000_001 } },
        "price.amount_minor",
        "price.amount_minor must be between 1 and 10000000",
      ],
    ];
    for (const [override, field, message] of cases) {
      const error = await h.client.createBook({ book: sampleBook(nextIsbn(), override) }).then(
        () => assert.fail(`${field} accepted`),
        (e: unknown) => e,
      );
      rejects("INVALID_ARGUMENT", message)(error);
      const details = readStatusDetails((error as ClientError).metadata);
      const badRequest = details.find((d) => d.typeUrl.endsWith("google.rpc.BadRequest"));
      assert.equal(
        badRequest && googleRpcErrorDetails.BadRequest.decode(badRequest.value).fieldViolations[0]?.field,
        field,
      );
    }
    await assert.rejects(h.client.createBook({}), rejects("INVALID_ARGUMENT", "book is required"));
  });

  test("UpdateBook: the fields of the mask, the etag refuses lost updates, versions move", async () => {
    const created = (await h.client.createBook({ book: sampleBook(nextIsbn()) })).book;
    const bookId = created?.bookId ?? "";
    const updated = (
      await h.client.updateBook({
        book: { ...sampleBook("", { title: "A Better Title", pageCount: 1 }), bookId, etag: created?.etag ?? "" },
        updateMask: ["title"],
      })
    ).book;
    assert.equal(updated?.title, "A Better Title");
    assert.equal(updated?.pageCount, 200, "fields outside the mask stay");
    assert.notEqual(updated?.etag, created?.etag);
    await assert.rejects(
      h.client.updateBook({
        book: { ...sampleBook(""), bookId, title: "Stale", etag: created?.etag ?? "" },
        updateMask: ["title"],
      }),
      rejects("ABORTED", "The book was changed by someone else; read it again and retry"),
    );
    // Without an etag the last write wins; an unchanged value changes nothing.
    const same = (
      await h.client.updateBook({ book: { ...sampleBook(""), bookId, title: "A Better Title" }, updateMask: ["title"] })
    ).book;
    assert.equal(same?.etag, updated?.etag);
    const priced = (
      await h.client.updateBook({
        book: { ...sampleBook(""), bookId, price: { currencyCode: "USD", amountMinor: 999 } },
        updateMask: ["price.amount_minor"],
      })
    ).book;
    assert.equal(priced?.price?.amountMinor, 999);

    await assert.rejects(
      h.client.updateBook({ book: { ...sampleBook(""), bookId }, updateMask: ["rating"] }),
      rejects("INVALID_ARGUMENT", "update_mask.paths[0] is not a writable field"),
    );
    await assert.rejects(
      h.client.updateBook({ book: { ...sampleBook(""), bookId, title: "" }, updateMask: ["title"] }),
      rejects("INVALID_ARGUMENT", "title is required"),
    );
    await assert.rejects(
      h.client.updateBook({ book: { ...sampleBook(data.books[1]?.isbn ?? ""), bookId }, updateMask: ["isbn"] }),
      rejects("ALREADY_EXISTS", "A book with this ISBN already exists"),
    );
    await assert.rejects(
      h.client.updateBook({ book: { ...sampleBook(""), bookId: "999999" }, updateMask: ["title"] }),
      rejects("NOT_FOUND", "Book not found"),
    );
    await assert.rejects(
      h.client.updateBook({ book: { ...sampleBook(""), bookId: "" }, updateMask: ["title"] }),
      rejects("INVALID_ARGUMENT", "book.book_id is required"),
    );
    await assert.rejects(
      h.anonymous.updateBook({ book: { ...sampleBook(""), bookId }, updateMask: ["title"] }, { metadata: h.shopper }),
      rejects("PERMISSION_DENIED"),
    );
    // An empty mask replaces every writable field.
    const whole = (
      await h.client.updateBook({
        book: { ...sampleBook(created?.isbn ?? "", { title: "Whole", pageCount: 7 }), bookId },
      })
    ).book;
    assert.deepEqual([whole?.title, whole?.pageCount, whole?.price?.amountMinor], ["Whole", 7, 1299]);
  });

  test("the rating-ordered list follows the stored rating summary", async () => {
    await h.db.updateTable("books").set({ rating_average: 4.9, rating_count: 3 }).where("id", "=", "7").execute();
    const top = await h.anonymous.listBooks({
      categoryId: "self-help",
      orderBy: "-rating",
      pageSize: 1,
      pageToken: "",
    });
    assert.equal(top.books[0]?.bookId, "7");
    assert.deepEqual(top.books[0]?.rating, { average: 4.9, count: 3 });
  });
});
