// The seed step: replicas starting together on an empty database seed it once; a restart adds
// nothing; the list is checked when it is read.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { createLogger } from "@obfy/kit/core";
import { sql } from "@obfy/kit/db";
import { createTestDatabase, type TestDatabase } from "@obfy/kit/db/testing";
import { createTestIdentity } from "@obfy/kit/dev";
import { type RunningService, startService } from "@obfy/kit/service";
import { catalogService } from "./app.js";
import type { CatalogSchema } from "./db/schema.js";
import { loadCatalogData } from "./seed.js";
import { isIsbn13 } from "./validation.js";

const data = loadCatalogData();

describe("the seed step", () => {
  const databases: TestDatabase[] = [];
  const running: RunningService<CatalogSchema>[] = [];
  after(async () => {
    await Promise.all(running.map((r) => r.stop()));
    await Promise.all(databases.map((d) => d.drop()));
  });

  test("the list: 300+ real books in 10+ categories, the tutorial's three, ISBNs of the store's series", () => {
    assert.ok(data.books.length >= 300);
    assert.ok(data.categories.length >= 10);
    for (const id of ["mystery", "science-fiction", "self-help"]) {
      assert.ok(data.books.filter((b) => b.categoryIds[0] === id).length >= 3, id);
    }
    data.books.forEach((book, i) => {
      assert.ok(isIsbn13(book.isbn));
      assert.equal(book.isbn.slice(0, 12), `978${String(i + 1).padStart(9, "0")}`);
    });
    assert.equal(new Set(data.books.map((b) => b.title.toLowerCase())).size, data.books.length, "no title twice");
  });

  test("three replicas starting at once on an empty database seed it once; a restart adds nothing", async () => {
    const [own, bus] = [await createTestDatabase(), await createTestDatabase()];
    databases.push(own, bus);
    const identity = await createTestIdentity();
    const env = {
      DATABASE_URL: own.url,
      EVENT_BUS: "postgres",
      EVENT_BUS_DATABASE_URL: bus.url,
      HOST: "127.0.0.1",
      PORT: "0",
      METRICS_PORT: "off",
      LOG_LEVEL: "silent",
      SHUTDOWN_GRACE_SECONDS: "5",
      DATABASE_CONNECT_TIMEOUT_MS: "15000",
      ...identity.env,
    };
    const logger = createLogger({ name: "catalog", level: "silent" });
    const replicas = await Promise.all([1, 2, 3].map(() => startService(catalogService, { env, logger })));
    running.push(...replicas);
    const count = async (service: RunningService<CatalogSchema> | undefined) => {
      const db = service?.database?.kysely;
      assert.ok(db !== undefined);
      const books = await db.selectFrom("books").select(sql<string>`count(*)`.as("n")).executeTakeFirstOrThrow();
      const events = await sql<{ n: string }>`
        select count(*) as n from outbox where type = 'bookstore.catalog.events.v1.BookCreated'`.execute(db);
      const ids = await db.selectFrom("books").select(sql<string>`max(id)`.as("max")).executeTakeFirstOrThrow();
      return { books: Number(books.n), events: Number(events.rows[0]?.n), maxId: Number(ids.max) };
    };
    assert.deepEqual(await count(replicas[0]), {
      books: data.books.length,
      events: data.books.length,
      maxId: data.books.length,
    });
    const categories = await replicas[1]?.database?.kysely
      .selectFrom("categories")
      .select("category_id")
      .orderBy("position")
      .execute();
    assert.deepEqual(
      categories?.map((c) => c.category_id),
      data.categories.map((c) => c.categoryId),
    );

    await Promise.all(replicas.map((r) => r.stop()));
    running.length = 0;
    const again = await startService(catalogService, { env, logger });
    running.push(again);
    assert.deepEqual(await count(again), {
      books: data.books.length,
      events: data.books.length,
      maxId: data.books.length,
    });
    // New books are numbered after the seeded ones.
    const row = await again.database?.kysely
      .insertInto("books")
      .values({
        isbn: "9791000000003",
        title: "After the seed",
        authors: ["X"],
        description: "",
        category_ids: ["mystery"],
        publication_year: 2000,
        page_count: 1,
        price_minor: 100,
        currency_code: "USD",
      })
      .returning("id")
      .executeTakeFirstOrThrow();
    assert.equal(row?.id, String(data.books.length + 1));
  });

  test("a bad list stops the start with a message naming the book", () => {
    const file = join(tmpdir(), `catalog-data-${process.pid}.json`);
    const book = { ...data.books[0], priceMinor: 100 };
    writeFileSync(file, JSON.stringify({ categories: data.categories, books: [book, book] }));
    assert.throws(() => loadCatalogData(file), /book 2: ISBN 9780000000019 appears twice/);
    writeFileSync(
      file,
      JSON.stringify({ categories: data.categories, books: [{ ...book, categoryIds: ["cookery"] }] }),
    );
    assert.throws(() => loadCatalogData(file), /book 1: category_ids\[0\] is not a category/);
    writeFileSync(file, "{");
    assert.throws(() => loadCatalogData(file), /Invalid catalog data/);
  });
});
