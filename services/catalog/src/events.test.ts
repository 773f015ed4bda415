// Events over the real bus (pg-boss): what the Catalog publishes through its outbox when books
// change, and the rating summary it keeps from Reviews' events. Stand-ins for a consumer and for
// Reviews use an outbox of their own.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createLogger } from "@obfy/kit/core";
import { createDatabase, type Database, readDatabaseConfig, sql } from "@obfy/kit/db";
import { createTestDatabase, type TestDatabase } from "@obfy/kit/db/testing";
import {
  createEventBus,
  type EventBus,
  type EventTables,
  eventsMigrations,
  readEventBusConfig,
} from "@obfy/kit/events";
import { catalogEventsV1, reviewsEventsV1 } from "@obfy/protos";
import { type CatalogHarness, sampleBook, startCatalogHarness, testIsbn } from "./fixtures/catalog-harness.js";

type Received =
  | { type: "BookCreated"; data: catalogEventsV1.BookCreated }
  | { type: "BookUpdated"; data: catalogEventsV1.BookUpdated }
  | { type: "BookPriceChanged"; data: catalogEventsV1.BookPriceChanged };

async function until<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe("the Catalog's events", () => {
  let h: CatalogHarness;
  let peerDatabase: TestDatabase;
  let peer: Database<EventTables>;
  let watcher: EventBus<EventTables>;
  let reviews: EventBus<EventTables>;
  const received: Received[] = [];
  const logger = createLogger({ name: "peers", level: "silent" });
  const idOf = (r: Received) => (r.type === "BookPriceChanged" ? r.data.bookId : r.data.book?.bookId);
  const of = (bookId: string) => received.filter((r) => idOf(r) === bookId);

  before(async () => {
    h = await startCatalogHarness();
    peerDatabase = await createTestDatabase();
    peer = createDatabase<EventTables>({
      config: readDatabaseConfig(peerDatabase.env, { name: "peers" }),
      logger,
      migrations: [eventsMigrations],
    });
    await peer.migrate();
    const config = readEventBusConfig(h.env);
    watcher = createEventBus<EventTables>({ service: "watcher", db: peer.kysely, listen: peer.pool, config, logger });
    // Both stand-ins share one outbox: only one relay may run on it.
    reviews = createEventBus<EventTables>({ service: "reviews", db: peer.kysely, config, logger, relay: false });
    watcher
      .subscribe(catalogEventsV1.BookCreated, async (e) => void received.push({ type: "BookCreated", data: e.data }))
      .subscribe(catalogEventsV1.BookUpdated, async (e) => void received.push({ type: "BookUpdated", data: e.data }))
      .subscribe(
        catalogEventsV1.BookPriceChanged,
        async (e) => void received.push({ type: "BookPriceChanged", data: e.data }),
      );
    // One after the other: a failed start never races the other's close in after().
    await watcher.start();
    await reviews.start();
  });
  after(async () => {
    await watcher?.close();
    await reviews?.close();
    await peer?.close();
    await peerDatabase?.drop();
    await h?.stop();
  });

  test("the seed recorded one BookCreated per seeded book in the outbox", async () => {
    const rows = await sql<{ n: string }>`
      select count(*) as n from outbox where type = 'bookstore.catalog.events.v1.BookCreated'`.execute(h.db);
    const books = await h.db.selectFrom("books").select(sql<string>`count(*)`.as("n")).executeTakeFirstOrThrow();
    assert.equal(Number(rows.rows[0]?.n), Number(books.n));
  });

  test("CreateBook publishes BookCreated with the book's facts; a refused create publishes nothing", async () => {
    const created = (await h.client.createBook({ book: sampleBook(testIsbn(1), { authors: ["A", "B"] }) })).book;
    const bookId = created?.bookId ?? "";
    const event = await until("BookCreated", () => of(bookId).find((r) => r.type === "BookCreated"));
    assert.deepEqual(event.data, {
      book: {
        bookId,
        isbn: testIsbn(1),
        title: "A Test of Patience",
        authors: ["A", "B"],
        categoryIds: ["mystery"],
        publicationYear: 2020,
        price: { currencyCode: "USD", amountMinor: 1299 },
        version: 1,
      },
    });
    const outboxBefore = await sql<{ n: string }>`select count(*) as n from outbox`.execute(h.db);
    await assert.rejects(h.client.createBook({ book: sampleBook(testIsbn(1)) }));
    const outboxAfter = await sql<{ n: string }>`select count(*) as n from outbox`.execute(h.db);
    assert.equal(outboxAfter.rows[0]?.n, outboxBefore.rows[0]?.n);
  });

  test("UpdateBook publishes BookUpdated, and BookPriceChanged when the price changed; versions increase", async () => {
    const created = (await h.client.createBook({ book: sampleBook(testIsbn(2)) })).book;
    const bookId = created?.bookId ?? "";
    await until("BookCreated", () => of(bookId).find((r) => r.type === "BookCreated"));
    await h.client.updateBook({
      book: { ...sampleBook(""), bookId, price: { currencyCode: "USD", amountMinor: 1500 } },
      updateMask: ["price"],
    });
    const changed = await until("BookPriceChanged", () => of(bookId).find((r) => r.type === "BookPriceChanged"));
    assert.deepEqual(changed.data, {
      bookId,
      oldPrice: { currencyCode: "USD", amountMinor: 1299 },
      newPrice: { currencyCode: "USD", amountMinor: 1500 },
      version: 2,
    });
    const updated = await until("BookUpdated", () => of(bookId).find((r) => r.type === "BookUpdated"));
    assert.equal((updated.data as catalogEventsV1.BookUpdated).book?.version, 2);
    assert.equal((updated.data as catalogEventsV1.BookUpdated).book?.price?.amountMinor, 1500);

    // A description alone: BookUpdated without a price change; the same value again: nothing.
    await h.client.updateBook({
      book: { ...sampleBook(""), bookId, description: "New words." },
      updateMask: ["description"],
    });
    await h.client.updateBook({
      book: { ...sampleBook(""), bookId, description: "New words." },
      updateMask: ["description"],
    });
    await until("the second BookUpdated", () =>
      of(bookId).filter((r) => r.type === "BookUpdated").length === 2 ? true : undefined,
    );
    // Give a wrong third event time to arrive.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.deepEqual(
      of(bookId)
        .map((r) => r.type)
        .sort(),
      ["BookCreated", "BookPriceChanged", "BookUpdated", "BookUpdated"],
    );
    const versions = of(bookId)
      .filter((r) => r.type === "BookUpdated")
      .map((r) => Number((r.data as catalogEventsV1.BookUpdated).book?.version))
      .sort();
    assert.deepEqual(versions, [2, 3]);
  });

  test("Reviews' events keep the rating summary; older versions and unknown books change nothing", async () => {
    const publish = async (event: "posted" | "deleted", rating: reviewsEventsV1.BookRating) => {
      await peer.transaction(async (trx) => {
        if (event === "posted") {
          await reviews.publish(trx, reviewsEventsV1.ReviewPosted, {
            reviewId: `r-${rating.version}`,
            bookId: rating.bookId,
            authorId: "shopper-1",
            rating: 5,
            bookRating: rating,
          });
        } else {
          await reviews.publish(trx, reviewsEventsV1.ReviewDeleted, {
            reviewId: `r-${rating.version}`,
            bookId: rating.bookId,
            authorId: "shopper-1",
            rating: 5,
            bookRating: rating,
          });
        }
      });
    };
    const before = (await h.anonymous.getBook({ bookId: "5" })).book;
    await publish("posted", { bookId: "5", average: 4.5, count: 2, version: 3 });
    await until("the rating", async () => {
      const book = (await h.anonymous.getBook({ bookId: "5" })).book;
      return book?.rating?.count === 2 ? book : undefined;
    });
    await publish("posted", { bookId: "5", average: 1, count: 1, version: 2 });
    await publish("posted", { bookId: "999999", average: 3, count: 1, version: 1 });
    await publish("deleted", { bookId: "5", average: 4, count: 1, version: 4 });
    const after = await until("the deletion's rating", async () => {
      const book = (await h.anonymous.getBook({ bookId: "5" })).book;
      return book?.rating?.count === 1 ? book : undefined;
    });
    assert.deepEqual(after.rating, { average: 4, count: 1 });
    assert.equal(after.etag, before?.etag, "a rating is not a change of the book");
    // The stale event (version 2) was handled, and changed nothing.
    await until("every review event handled", async () => {
      const rows = await sql<{ n: string }>`select count(*) as n from processed_events`.execute(h.db);
      return Number(rows.rows[0]?.n) >= 4 ? true : undefined;
    });
    assert.deepEqual((await h.anonymous.getBook({ bookId: "5" })).book?.rating, { average: 4, count: 1 });
  });
});
