// Inventory knows books by the Catalog's id alone. A new book gets its stock row from
// BookCreated; the books the Catalog had before Inventory subscribed come from a backfill
// through CatalogService.ListBooks, until one pass went through every page. Both insert only
// when the book has no row, so they can run in any order, at once, and again.
import { setTimeout as delay } from "node:timers/promises";
import type { Logger } from "@obfy/kit/core";
import type { Database } from "@obfy/kit/db";
import type { EventBus } from "@obfy/kit/events";
import type { BackgroundTask } from "@obfy/kit/service";
import { catalogEventsV1, type catalogV1 } from "@obfy/protos";
import type { InventorySchema } from "./db/schema.js";
import { backfillCompleted, createStockIfAbsent, markBackfillCompleted } from "./db/stock.js";
import type { OpeningStock } from "./opening-stock.js";

/** The part of the Catalog client the backfill uses. */
export interface CatalogBooks {
  listBooks(
    request: catalogV1.ListBooksRequest,
    options?: { readonly signal?: AbortSignal; readonly timeoutMs?: number },
  ): Promise<catalogV1.ListBooksResponse>;
}

/** Creates stock rows for new books from BookCreated. */
export function subscribeCatalog(bus: EventBus<InventorySchema>, opening: OpeningStock): void {
  bus.subscribe(catalogEventsV1.BookCreated, async (event, trx) => {
    const book = event.data.book;
    if (book === undefined || book.bookId === "") return;
    await createStockIfAbsent(trx, book.bookId, opening.get(book.isbn) ?? 0);
  });
}

// Catalog unreachable: try again after 1 s, doubling up to 30 s, until the service stops.
const RETRY_BASE_MS = 1000;
const RETRY_MAX_MS = 30_000;
const PAGE_SIZE = 100;

/** The backfill, as a background task; `done` resolves once a pass completed (or was not needed). */
export function createCatalogBackfill(options: {
  readonly database: Database<InventorySchema>;
  readonly catalog: CatalogBooks;
  readonly opening: OpeningStock;
  readonly logger: Logger;
}): BackgroundTask & { readonly done: Promise<void> } {
  const { database, catalog, opening } = options;
  const logger = options.logger.child({ component: "catalog-backfill" });
  const stop = new AbortController();
  let running: Promise<void> | undefined;
  let resolveDone: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    resolveDone = resolve;
  });

  async function pass(): Promise<number> {
    let created = 0;
    let pageToken = "";
    do {
      const page = await catalog.listBooks(
        { categoryId: "", orderBy: "", pageSize: PAGE_SIZE, pageToken },
        { signal: stop.signal, timeoutMs: 10_000 },
      );
      for (const book of page.books) {
        if (await createStockIfAbsent(database.kysely, book.bookId, opening.get(book.isbn) ?? 0)) created++;
      }
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
        logger.info({ created }, "Stock rows backfilled from the Catalog");
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
