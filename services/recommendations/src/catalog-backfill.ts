// The books the Catalog had before Recommendations subscribed come from a backfill through
// CatalogService.ListCategories and ListBooks, until one pass went through every page; from then
// on events keep the read model current. A backfilled book (and its rating from the Catalog's
// summary) is inserted only when absent, with version 0, so it never overwrites what an event
// brought, and any later event replaces it. Each page commits with a model revision bump.
import { setTimeout as delay } from "node:timers/promises";
import type { Logger } from "@obfy/kit/core";
import type { Database } from "@obfy/kit/db";
import type { BackgroundTask } from "@obfy/kit/service";
import type { catalogV1 } from "@obfy/protos";
import {
  addCategories,
  backfillCompleted,
  bumpModelRevision,
  insertBookIfAbsent,
  markBackfillCompleted,
  upsertRating,
} from "./db/read-model.js";
import type { RecommendationsSchema } from "./db/schema.js";

/** The part of the Catalog client the backfill uses. */
export interface CatalogBooks {
  listCategories(
    request: catalogV1.ListCategoriesRequest,
    options?: { readonly signal?: AbortSignal; readonly timeoutMs?: number },
  ): Promise<catalogV1.ListCategoriesResponse>;
  listBooks(
    request: catalogV1.ListBooksRequest,
    options?: { readonly signal?: AbortSignal; readonly timeoutMs?: number },
  ): Promise<catalogV1.ListBooksResponse>;
}

// Catalog unreachable: try again after 1 s, doubling up to 30 s, until the service stops.
const RETRY_BASE_MS = 1000;
const RETRY_MAX_MS = 30_000;
const PAGE_SIZE = 100;

/** The backfill, as a background task; `done` resolves once a pass completed (or was not needed). */
export function createCatalogBackfill(options: {
  readonly database: Database<RecommendationsSchema>;
  readonly catalog: CatalogBooks;
  readonly logger: Logger;
}): BackgroundTask & { readonly done: Promise<void> } {
  const { database, catalog } = options;
  const logger = options.logger.child({ component: "catalog-backfill" });
  const stop = new AbortController();
  let running: Promise<void> | undefined;
  let resolveDone: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    resolveDone = resolve;
  });
  const call = { signal: stop.signal, timeoutMs: 10_000 };

  async function pass(): Promise<number> {
    const { categories } = await catalog.listCategories({}, call);
    await database.transaction(async (trx) => {
      if (
        await addCategories(
          trx,
          categories.map((c) => c.categoryId),
        )
      )
        await bumpModelRevision(trx);
    });
    let created = 0;
    let pageToken = "";
    do {
      const page = await catalog.listBooks({ categoryId: "", orderBy: "", pageSize: PAGE_SIZE, pageToken }, call);
      created += await database.transaction(async (trx) => {
        let inserted = 0;
        let changed = false;
        for (const book of page.books) {
          if (book.bookId === "") continue;
          if (
            await insertBookIfAbsent(trx, {
              bookId: book.bookId,
              isbn: book.isbn,
              title: book.title,
              authors: book.authors,
              categoryIds: book.categoryIds,
              publicationYear: book.publicationYear,
              priceCurrency: book.price?.currencyCode ?? "",
              priceMinor: book.price?.amountMinor ?? 0,
              version: 0,
            })
          ) {
            inserted++;
            changed = true;
          }
          // The Catalog's summary of reviews made before we subscribed; Reviews' events (newer
          // versions) replace it.
          const rating = book.rating;
          if (rating !== undefined && rating.count > 0) {
            const summary = { bookId: book.bookId, average: rating.average, count: rating.count, version: 0 };
            if (await upsertRating(trx, summary)) changed = true;
          }
        }
        if (changed) await bumpModelRevision(trx);
        return inserted;
      });
      pageToken = page.nextPageToken;
    } while (pageToken !== "" && !stop.signal.aborted);
    return created;
  }

  async function run(): Promise<void> {
    for (let attempt = 1; !stop.signal.aborted; attempt++) {
      try {
        if (await backfillCompleted(database.kysely)) break;
        const created = await pass();
        if (stop.signal.aborted) return;
        await markBackfillCompleted(database.kysely);
        logger.info({ created }, "Read model backfilled from the Catalog");
        break;
      } catch (error) {
        if (stop.signal.aborted) return;
        const wait = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** (attempt - 1));
        logger.warn({ err: error, retry_in_ms: wait }, "Catalog backfill failed; retrying");
        await delay(wait, undefined, { signal: stop.signal }).catch(() => {});
      }
    }
    resolveDone();
  }

  return {
    name: "catalog-backfill",
    done,
    start() {
      running = run();
    },
    async stop() {
      stop.abort();
      await running;
    },
  };
}
