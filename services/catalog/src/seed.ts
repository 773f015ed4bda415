// The seed step: the Catalog's opening list (data/books.json) goes into an empty database, once.
// It runs at every start (and from `npm run seed`) under a transaction-scoped advisory lock, so
// replicas starting together seed once: the first inserts the books, the others wait for its
// commit, then find books and do nothing. Categories are brought in line with the file every
// time. Each seeded book publishes BookCreated through the outbox like any other new book.
import { readFileSync } from "node:fs";
import { setTimeout as delay } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import type { Logger } from "@obfy/kit/core";
import { type Database, sql } from "@obfy/kit/db";
import type { EventBus } from "@obfy/kit/events";
import { createNumberedBooks } from "./books.js";
import { booksAreEmpty, upsertCategories } from "./db/books.js";
import type { CatalogSchema } from "./db/schema.js";
import { type BookInput, CURRENCY, checkBook } from "./validation.js";

/** Where the list is read from unless `CATALOG_DATA_FILE` says otherwise (the same from `src/` and `dist/`). */
export const DEFAULT_DATA_FILE: string = fileURLToPath(new URL("../data/books.json", import.meta.url));

/** Names the seed step's advisory lock (its key is this text's hash). */
const SEED_LOCK = "catalog-seed";
/** How long a replica waits for another's seed, and how often it looks. */
const SEED_WAIT_MS = 300_000;
const SEED_RETRY_MS = 200;

/** A category of the list. */
export interface CategoryData {
  readonly categoryId: string;
  readonly displayName: string;
  readonly description: string;
}

/** The list: categories in display order, and books whose position (from 1) is their id. */
export interface CatalogData {
  readonly categories: readonly CategoryData[];
  readonly books: readonly BookInput[];
}

/** Reads and checks the list; an error names the file and the first bad entry. */
export function loadCatalogData(file: string = DEFAULT_DATA_FILE): CatalogData {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw new Error(`Invalid catalog data ${file}: ${(error as Error).message}`);
  }
  const data = value as { categories?: unknown; books?: unknown };
  if (!Array.isArray(data.categories) || !Array.isArray(data.books)) {
    throw new Error(`Invalid catalog data ${file}: expected { categories: [...], books: [...] }`);
  }
  const categories = data.categories.map((c: Partial<CategoryData>, i) => {
    if (typeof c.categoryId !== "string" || !/^[a-z][a-z0-9-]*$/.test(c.categoryId)) {
      throw new Error(`Invalid catalog data ${file}: category ${i} has no valid categoryId`);
    }
    if (typeof c.displayName !== "string" || typeof c.description !== "string") {
      throw new Error(`Invalid catalog data ${file}: category ${c.categoryId} needs displayName and description`);
    }
    return { categoryId: c.categoryId, displayName: c.displayName, description: c.description };
  });
  const ids = new Set(categories.map((c) => c.categoryId));
  const isbns = new Set<string>();
  const books = data.books.map((b: Record<string, unknown>, i) => {
    try {
      const input = checkBook(
        {
          bookId: "",
          isbn: String(b.isbn ?? ""),
          title: String(b.title ?? ""),
          authors: Array.isArray(b.authors) ? b.authors.map(String) : [],
          description: String(b.description ?? ""),
          categoryIds: Array.isArray(b.categoryIds) ? b.categoryIds.map(String) : [],
          publicationYear: Number(b.publicationYear),
          pageCount: Number(b.pageCount),
          price: { currencyCode: CURRENCY, amountMinor: Number(b.priceMinor) },
          coverUri: "",
          etag: "",
        },
        ids,
      );
      if (isbns.has(input.isbn)) throw new Error(`ISBN ${input.isbn} appears twice`);
      isbns.add(input.isbn);
      return input;
    } catch (error) {
      throw new Error(`Invalid catalog data ${file}: book ${i + 1}: ${(error as Error).message}`);
    }
  });
  return { categories, books };
}

/** Seeds an empty catalogue; resolves with the number of books it inserted (0 when there were books). */
export async function seedCatalog(options: {
  readonly database: Database<CatalogSchema>;
  readonly bus: Pick<EventBus<CatalogSchema>, "publish">;
  readonly data: CatalogData;
  readonly logger: Logger;
}): Promise<number> {
  const { database, bus, data, logger } = options;
  const started = performance.now();
  const deadline = Date.now() + SEED_WAIT_MS;
  let seeded: number | "busy";
  // Another replica holding the lock is seeding: wait for its commit, with short statements only
  // (a blocking lock wait would run into the pool's statement timeout, which is for requests).
  for (;;) {
    seeded = await database.transaction(async (trx) => {
      const lock = await sql<{ locked: boolean }>`
        select pg_try_advisory_xact_lock(hashtext(${SEED_LOCK})) as locked`.execute(trx);
      if (lock.rows[0]?.locked !== true) return "busy" as const;
      await upsertCategories(trx, data.categories);
      if (!(await booksAreEmpty(trx))) return 0;
      await createNumberedBooks(trx, bus, data.books);
      return data.books.length;
    });
    if (seeded !== "busy") break;
    if (Date.now() > deadline)
      throw new Error(`The catalog seed waited ${SEED_WAIT_MS / 1000} s for another replica's`);
    await delay(SEED_RETRY_MS);
  }
  if (seeded > 0) {
    logger.info({ books: seeded, duration_ms: Math.round(performance.now() - started) }, "Catalog seeded");
  }
  return seeded;
}
