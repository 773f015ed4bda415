// The read model end to end: real PostgreSQL, the real event bus (RabbitMQ), two replicas on one
// database. Books come from the Catalog backfill and from Catalog events, ratings and reviewers
// from Reviews events, "bought together" from Orders events; every replica's in-memory model
// follows, and duplicates or late events change nothing.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { Metadata, status } from "@grpc/grpc-js";
import { ClientError } from "@obfy/kit/client";
import { sql } from "@obfy/kit/db";
import type { MessageType } from "@obfy/kit/events";
import type { RunningService } from "@obfy/kit/service";
import {
  catalogEventsV1,
  legacyRecommendations,
  ordersEventsV1,
  recommendationsV1,
  reviewsEventsV1,
} from "@obfy/protos";
import type { RecommendationsSchema } from "./db/schema.js";
import type { StandInBook } from "./fixtures/catalog-server.js";
import {
  eventually,
  type RecommendationsHarness,
  startRecommendationsHarness,
} from "./fixtures/recommendations-harness.js";

const { BookCategory, Reason } = recommendationsV1;

const BOOKS: StandInBook[] = [
  { bookId: "1", title: "The Maltese Falcon", categoryIds: ["mystery"] },
  { bookId: "2", title: "Murder on the Orient Express", categoryIds: ["mystery"] },
  { bookId: "3", title: "The Hound of the Baskervilles", categoryIds: ["mystery"] },
  { bookId: "10", title: "The Big Sleep", categoryIds: ["mystery"] },
  { bookId: "11", title: "Gone Girl", categoryIds: ["mystery", "thriller"] },
  { bookId: "4", title: "The Hitchhiker's Guide to the Galaxy", categoryIds: ["science-fiction"] },
  { bookId: "5", title: "Ender's Game", categoryIds: ["science-fiction"] },
  { bookId: "6", title: "Dune", categoryIds: ["science-fiction"] },
  { bookId: "12", title: "Foundation", categoryIds: ["science-fiction"] },
  { bookId: "7", title: "The 7 Habits of Highly Effective People", categoryIds: ["self-help"] },
  { bookId: "8", title: "How to Win Friends and Influence People", categoryIds: ["self-help"] },
  { bookId: "9", title: "Man's Search for Meaning", categoryIds: ["self-help"] },
  {
    bookId: "20",
    title: "The Hobbit",
    authors: ["J. R. R. Tolkien"],
    categoryIds: ["fantasy"],
    priceMinor: 1299,
    rating: { average: 4.8, count: 20 },
  },
  { bookId: "21", title: "A Wizard of Earthsea", categoryIds: ["fantasy"], rating: { average: 3, count: 2 } },
  { bookId: "22", title: "The Name of the Wind", categoryIds: ["fantasy"], rating: { average: 5, count: 1 } },
  { bookId: "40", title: "SPQR", categoryIds: ["history"] },
  { bookId: "41", title: "The Guns of August", categoryIds: ["history"] },
  { bookId: "42", title: "Postwar", categoryIds: ["history"] },
  { bookId: "43", title: "The Silk Roads", categoryIds: ["history"] },
];

const ids = (books: readonly { id: number }[]) => books.map((b) => b.id).sort((a, b) => a - b);
const bookIds = (books: readonly { bookId: string }[]) => books.map((b) => b.bookId);

function rejectsWith(code: status, details: string) {
  return (error: unknown) => {
    assert.ok(error instanceof ClientError, `expected a ClientError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    assert.equal(error.details, details);
    return true;
  };
}

function metadataOf(headers: Record<string, string>): Metadata {
  const metadata = new Metadata();
  for (const [key, value] of Object.entries(headers)) metadata.set(key, value);
  return metadata;
}

function facts(partial: Partial<catalogEventsV1.BookFacts>): catalogEventsV1.BookFacts {
  return catalogEventsV1.BookFacts.fromPartial({
    isbn: "9780000000000",
    authors: ["Someone"],
    publicationYear: 2000,
    price: { currencyCode: "USD", amountMinor: 1500 },
    ...partial,
  });
}

function orderLines(...bookIdsOfOrder: string[]): ordersEventsV1.OrderedLine[] {
  return bookIdsOfOrder.map((bookId) =>
    ordersEventsV1.OrderedLine.fromPartial({ bookId, title: bookId, quantity: 1, unitPrice: { currencyCode: "USD" } }),
  );
}

describe("the read model over the real bus, with two replicas", () => {
  let h: RecommendationsHarness;
  let replica: RunningService<RecommendationsSchema>;

  before(async () => {
    h = await startRecommendationsHarness({ books: BOOKS, categories: ["mystery", "fantasy", "poetry"] });
  });
  after(() => h?.stop());

  /** Publishes and waits until the replicas' consumer recorded the event as handled. */
  async function publishAndWait<T>(type: MessageType<T>, data: T): Promise<string> {
    const id = await h.publish(type, data);
    await eventually(`event ${type.$type} handled`, async () => {
      const row = await h.db
        .selectFrom("processed_events")
        .select("event_id")
        .where("event_id", "=", id)
        .executeTakeFirst();
      return row;
    });
    return id;
  }

  async function revision(): Promise<number> {
    const row = await h.db.selectFrom("model_revision").select("revision").executeTakeFirstOrThrow();
    return Number(row.revision);
  }

  it("backfills the catalogue's books and ratings at first start, and answers both APIs from them", async () => {
    const v1 = h.v1();
    const mystery = await eventually("the backfilled mystery books", async () => {
      const response = await v1.recommend(
        recommendationsV1.RecommendRequest.fromPartial({
          category: BookCategory.BOOK_CATEGORY_MYSTERY,
          maxResults: 10,
        }),
      );
      return response.recommendations.length === 5 ? response.recommendations : undefined;
    });
    assert.deepEqual(ids(mystery), [1, 2, 3, 10, 11]);
    for (const book of mystery) assert.equal(book.category, BookCategory.BOOK_CATEGORY_MYSTERY);
    assert.equal(mystery.find((b) => b.id === 10)?.title, "The Big Sleep");

    // The tutorial's default: three distinct books of the category.
    const three = await v1.recommend(
      recommendationsV1.RecommendRequest.fromPartial({ category: BookCategory.BOOK_CATEGORY_SCIENCE_FICTION }),
    );
    assert.equal(new Set(ids(three.recommendations)).size, 3);
    for (const id of ids(three.recommendations)) assert.ok([4, 5, 6, 12].includes(id));

    // The legacy contract, unchanged: MYSTERY = 0 is a category, 0 books for max_results 0, the same errors.
    const legacy = h.legacy();
    const sf = await legacy.recommend({
      userId: 1,
      category: legacyRecommendations.BookCategory.SCIENCE_FICTION,
      maxResults: 10,
    });
    assert.deepEqual(ids(sf.recommendations), [4, 5, 6, 12]);
    assert.deepEqual(Object.keys(sf.recommendations[0] ?? {}).sort(), ["id", "title"]);
    const one = await legacy.recommend({
      userId: 1,
      category: legacyRecommendations.BookCategory.MYSTERY,
      maxResults: 1,
    });
    assert.equal(one.recommendations.length, 1);
    const none = await legacy.recommend({
      userId: 1,
      category: legacyRecommendations.BookCategory.SELF_HELP,
      maxResults: 0,
    });
    assert.deepEqual(none.recommendations, []);
    await assert.rejects(
      legacy.recommend({ userId: 1, category: 3 as legacyRecommendations.BookCategory, maxResults: 1 }),
      rejectsWith(status.NOT_FOUND, "Category not found"),
    );
    await assert.rejects(
      legacy.recommend({ userId: 1, category: legacyRecommendations.BookCategory.MYSTERY, maxResults: -1 }),
      rejectsWith(status.INVALID_ARGUMENT, "max_results must be >= 0, got -1"),
    );

    // Best-rated first, from the Catalog's rating summaries: 20 reviews at 4.8 beat one at 5.
    const fantasy = await v1.recommendForShopper({ categoryId: "fantasy", maxResults: 5 });
    assert.deepEqual(bookIds(fantasy.books), ["20", "22", "21"]);
    const hobbit = fantasy.books[0];
    assert.deepEqual(hobbit?.authors, ["J. R. R. Tolkien"]);
    assert.deepEqual(hobbit?.price, { currencyCode: "USD", amountMinor: 1299 });
    assert.equal(hobbit?.ratingAverage, 4.8);
    assert.equal(hobbit?.ratingCount, 20);
    assert.equal(hobbit?.reason, Reason.REASON_BEST_RATED);
    // A category the Catalog lists without books is known (empty); one it does not list is not.
    assert.deepEqual((await v1.recommendForShopper({ categoryId: "poetry", maxResults: 0 })).books, []);
    await assert.rejects(
      v1.recommendForShopper({ categoryId: "cooking", maxResults: 0 }),
      rejectsWith(status.NOT_FOUND, "Category not found"),
    );
    await assert.rejects(
      v1.recommendForShopper({ categoryId: "", maxResults: 21 }),
      rejectsWith(status.INVALID_ARGUMENT, "max_results must be between 0 and 20, got 21"),
    );
    assert.equal(h.catalogListCalls(), 1, "one page of 100");

    // A second replica: the backfill is done, so it does not page the Catalog again; it serves the
    // same model from its first call.
    replica = await h.startReplica();
    const fromReplica = await h.v1(replica).recommendForShopper({ categoryId: "fantasy", maxResults: 5 });
    assert.deepEqual(bookIds(fromReplica.books), ["20", "22", "21"]);
    assert.equal(h.catalogListCalls(), 1);
  });

  it("follows Catalog events on both replicas: new books, newer versions only, price changes", async () => {
    const replicas = [h.v1(), h.v1(replica)];
    const horror = async (client: (typeof replicas)[number]) =>
      (await client.recommendForShopper({ categoryId: "horror", maxResults: 20 })).books;

    await publishAndWait(catalogEventsV1.BookCreated, {
      book: facts({ bookId: "30", title: "Dracula", categoryIds: ["horror"], version: 1 }),
    });
    for (const client of replicas) {
      const books = await eventually("the new book on every replica", async () => {
        const found = await horror(client).catch(() => []);
        return found.length === 1 ? found : undefined;
      });
      assert.equal(books[0]?.title, "Dracula");
    }

    await publishAndWait(catalogEventsV1.BookUpdated, {
      book: facts({ bookId: "30", title: "Dracula (annotated)", categoryIds: ["horror"], version: 3 }),
    });
    // An older version, arriving late: ignored, and nothing to reload.
    const before = await eventually("version 3 applied", async () =>
      (await horror(replicas[1] as (typeof replicas)[number]))[0]?.title === "Dracula (annotated)"
        ? revision()
        : undefined,
    );
    await publishAndWait(catalogEventsV1.BookUpdated, {
      book: facts({ bookId: "30", title: "Dracula (old)", categoryIds: ["horror"], version: 2 }),
    });
    assert.equal(await revision(), before, "a stale event changes nothing");
    await publishAndWait(catalogEventsV1.BookPriceChanged, {
      bookId: "30",
      oldPrice: { currencyCode: "USD", amountMinor: 1500 },
      newPrice: { currencyCode: "USD", amountMinor: 2500 },
      version: 4,
    });
    for (const client of replicas) {
      const book = await eventually("the new price on every replica", async () => {
        const [found] = await horror(client);
        return found?.price?.amountMinor === 2500 ? found : undefined;
      });
      assert.equal(book.title, "Dracula (annotated)");
    }
  });

  it("keeps ratings and who reviewed what from Reviews events, idempotently and in any order", async () => {
    const u1 = metadataOf(await h.shopper("u1"));
    const v1 = h.v1(replica);
    const fantasyFor = async (metadata?: Metadata, categoryId = "fantasy") =>
      bookIds(
        (await v1.recommendForShopper({ categoryId, maxResults: 20 }, metadata === undefined ? {} : { metadata }))
          .books,
      );

    const posted = reviewsEventsV1.ReviewPosted.fromPartial({
      reviewId: "r1",
      bookId: "22",
      authorId: "u1",
      rating: 5,
      bookRating: { bookId: "22", average: 5, count: 40, version: 1 },
    });
    await publishAndWait(reviewsEventsV1.ReviewPosted, posted);
    // Now 22 (40 reviews at 5) is the best rated, and u1, who reviewed it, is not offered it.
    await eventually("the new rating", async () => ((await fantasyFor())[0] === "22" ? true : undefined));
    assert.deepEqual(await fantasyFor(), ["22", "20", "21"]);
    assert.deepEqual(await fantasyFor(u1), ["20", "21"]);
    // Without a category, u1's own categories (of what they reviewed) come first.
    const mixed = await fantasyFor(u1, "");
    assert.deepEqual(mixed.slice(0, 2), ["20", "21"]);
    assert.ok(!mixed.includes("22"));

    // The same review again as another event (a producer's retry): nothing changes.
    const at = await revision();
    await publishAndWait(reviewsEventsV1.ReviewPosted, posted);
    assert.equal(await revision(), at);

    // A stale rating (older version) is ignored; the deletion's newer one is kept.
    await publishAndWait(reviewsEventsV1.ReviewDeleted, {
      reviewId: "r1",
      bookId: "22",
      authorId: "u1",
      rating: 5,
      bookRating: { bookId: "22", average: 5, count: 39, version: 3 },
    });
    await publishAndWait(reviewsEventsV1.ReviewUpdated, {
      reviewId: "r1",
      bookId: "22",
      authorId: "u1",
      oldRating: 5,
      newRating: 4,
      bookRating: { bookId: "22", average: 4.9, count: 40, version: 2 },
    });
    const afterDelete = await eventually("the deletion on the replica", async () => {
      const books = (await v1.recommendForShopper({ categoryId: "fantasy", maxResults: 20 }, { metadata: u1 })).books;
      return books.length === 3 ? books : undefined;
    });
    assert.deepEqual(bookIds(afterDelete), ["22", "20", "21"], "u1's deleted review no longer hides the book");
    assert.equal(afterDelete[0]?.ratingCount, 39);

    // A deletion that arrives before its review: the review stays deleted.
    const u3 = metadataOf(await h.shopper("u3"));
    await publishAndWait(reviewsEventsV1.ReviewDeleted, { reviewId: "r3", bookId: "21", authorId: "u3", rating: 1 });
    await publishAndWait(reviewsEventsV1.ReviewPosted, { reviewId: "r3", bookId: "21", authorId: "u3", rating: 1 });
    assert.deepEqual(await fantasyFor(u3), ["22", "20", "21"]);
  });

  it("counts books bought together in confirmed orders only, once per order", async () => {
    const v1 = h.v1();
    const similar = async (bookId: string, maxResults = 3) =>
      (await v1.recommendSimilar({ bookId, maxResults })).books.map((b) => [b.bookId, b.reason]);
    const confirmed = (orderId: string, ownerId: string, ...books: string[]) =>
      ordersEventsV1.OrderConfirmed.fromPartial({ orderId, ownerId, lines: orderLines(...books) });

    // Before any order: the best rated of the book's main category.
    assert.deepEqual(
      (await similar("40")).map(([, reason]) => reason),
      [Reason.REASON_SAME_CATEGORY, Reason.REASON_SAME_CATEGORY, Reason.REASON_SAME_CATEGORY],
    );

    await publishAndWait(ordersEventsV1.OrderConfirmed, confirmed("o1", "u5", "40", "41"));
    await publishAndWait(ordersEventsV1.OrderConfirmed, confirmed("o2", "u6", "40", "42"));
    const o3 = confirmed("o3", "u7", "42", "40", "42");
    await publishAndWait(ordersEventsV1.OrderConfirmed, o3);
    const together = await eventually("the orders in the model", async () => {
      const books = await similar("40");
      return books[0]?.[0] === "42" && books[1]?.[1] === Reason.REASON_BOUGHT_TOGETHER ? books : undefined;
    });
    assert.deepEqual(together, [
      ["42", Reason.REASON_BOUGHT_TOGETHER],
      ["41", Reason.REASON_BOUGHT_TOGETHER],
      ["43", Reason.REASON_SAME_CATEGORY],
    ]);

    // The same confirmation again (another event id): counted once.
    const at = await revision();
    await publishAndWait(ordersEventsV1.OrderConfirmed, o3);
    assert.equal(await revision(), at);

    // Cancelled orders stop counting, once however often the cancellation comes.
    const cancelled = (orderId: string, ...books: string[]) =>
      ordersEventsV1.OrderCancelled.fromPartial({ orderId, lines: orderLines(...books), wasConfirmed: true });
    await publishAndWait(ordersEventsV1.OrderCancelled, cancelled("o2", "40", "42"));
    await publishAndWait(ordersEventsV1.OrderCancelled, cancelled("o3", "40", "42"));
    const afterCancel = await revision();
    await publishAndWait(ordersEventsV1.OrderCancelled, cancelled("o3", "40", "42"));
    assert.equal(await revision(), afterCancel);
    const now = await eventually("the cancellations in the model", async () => {
      const books = await similar("40");
      return books[1]?.[1] === Reason.REASON_SAME_CATEGORY ? books : undefined;
    });
    assert.deepEqual(now[0], ["41", Reason.REASON_BOUGHT_TOGETHER]);
    assert.deepEqual(new Set(now.slice(1).map(([id]) => id)), new Set(["42", "43"]));

    // A cancellation that overtakes its confirmation: the late confirmation counts nothing.
    await publishAndWait(ordersEventsV1.OrderCancelled, cancelled("o4", "41", "43"));
    await publishAndWait(ordersEventsV1.OrderConfirmed, confirmed("o4", "u8", "41", "43"));
    const pairs = await h.db
      .selectFrom("bought_together")
      .select(["book_id", "other_book_id", "order_count"])
      .where("order_count", ">", 0)
      .orderBy(["book_id", "other_book_id"])
      .execute();
    assert.deepEqual(
      pairs.map((p) => `${p.book_id}-${p.other_book_id}:${p.order_count}`),
      ["40-41:1", "41-40:1"],
    );
    for (const [, reason] of await similar("43")) assert.equal(reason, Reason.REASON_SAME_CATEGORY);

    // Purchase history: u5 bought 40 and 41, so "for you" leaves them out and starts with history.
    const u5 = metadataOf(await h.shopper("u5"));
    const forU5 = (await h.v1(replica).recommendForShopper({ categoryId: "", maxResults: 2 }, { metadata: u5 })).books;
    assert.deepEqual(new Set(bookIds(forU5)), new Set(["42", "43"]));

    await assert.rejects(
      v1.recommendSimilar({ bookId: "999", maxResults: 0 }),
      rejectsWith(status.NOT_FOUND, "Book not found"),
    );
    await assert.rejects(
      v1.recommendSimilar({ bookId: "40", maxResults: -1 }),
      rejectsWith(status.INVALID_ARGUMENT, "max_results must be between 0 and 20, got -1"),
    );
    assert.equal((await v1.recommendSimilar({ bookId: "40", maxResults: 0 })).books.length, 3, "0 means 4: all it has");
  });

  it("catches up from the revision poll when a replica missed the notifications", async () => {
    // Bypasses the consumers: a change committed with a revision bump but no NOTIFY reaches a
    // replica through its poll (MODEL_POLL_INTERVAL_MS=1000 here).
    await h.db.transaction().execute(async (trx) => {
      await trx
        .insertInto("books")
        .values({
          book_id: `poll-${randomUUID()}`,
          isbn: "9780000000001",
          title: "Polled",
          authors: [],
          category_ids: ["poll"],
          publication_year: 2001,
          price_currency: "USD",
          price_minor: 100,
          version: 1,
        })
        .execute();
      await trx.updateTable("model_revision").set({ revision: sql<string>`revision + 1` }).execute();
    });
    for (const client of [h.v1(), h.v1(replica)]) {
      await eventually("the polled change", async () => {
        const books = (
          await client.recommendForShopper({ categoryId: "poll", maxResults: 1 }).catch(() => ({ books: [] }))
        ).books;
        return books[0]?.title === "Polled" ? true : undefined;
      });
    }
  });
});

describe("a read model without books", () => {
  let h: RecommendationsHarness;
  before(async () => {
    h = await startRecommendationsHarness({ books: [] });
  });
  after(() => h?.stop());

  it("answers from data/books.json until the catalogue's first book arrives", async () => {
    const v1 = h.v1();
    const request = (category: recommendationsV1.BookCategory) =>
      recommendationsV1.RecommendRequest.fromPartial({ category, maxResults: 10 });
    const mystery = await v1.recommend(request(BookCategory.BOOK_CATEGORY_MYSTERY));
    assert.deepEqual(ids(mystery.recommendations), [1, 2, 3]);
    assert.ok(mystery.recommendations.some((b) => b.title === "The Maltese Falcon"));
    const similar = await v1.recommendSimilar({ bookId: "1", maxResults: 0 });
    assert.deepEqual(new Set(bookIds(similar.books)), new Set(["2", "3"]));
    await assert.rejects(
      v1.recommendForShopper({ categoryId: "fantasy", maxResults: 0 }),
      rejectsWith(status.NOT_FOUND, "Category not found"),
    );

    const id = await h.publish(catalogEventsV1.BookCreated, {
      book: facts({ bookId: "50", title: "The Big Sleep", categoryIds: ["mystery"], version: 1 }),
    });
    assert.ok(id);
    const now = await eventually("the catalogue's book", async () => {
      const found = (await v1.recommend(request(BookCategory.BOOK_CATEGORY_MYSTERY))).recommendations;
      return found.length === 1 ? found : undefined;
    });
    assert.deepEqual(ids(now), [50]);
    // A tutorial category the catalogue has no book in yet still answers from the file.
    const selfHelp = await v1.recommend(request(BookCategory.BOOK_CATEGORY_SELF_HELP));
    assert.deepEqual(ids(selfHelp.recommendations), [7, 8, 9]);
  });
});
