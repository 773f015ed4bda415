// The CatalogService's RPCs: validation, one transaction per change, answers in the proto's shapes.
import { AlreadyExists, INTERNAL_ERROR_MESSAGE } from "@obfy/kit/core";
import type { Database } from "@obfy/kit/db";
import type { EventBus } from "@obfy/kit/events";
import type { ServiceImplementation } from "@obfy/kit/server";
import type { catalogV1 } from "@obfy/protos";
import { actorOf } from "./actor.js";
import { bookOf, createBook, updateBook, upsertBook } from "./books.js";
import { renderCover } from "./cover.js";
import {
  categoryIds,
  countBooks,
  findBook,
  findBooks,
  listBookPage,
  listCategories,
  ORDERINGS,
  type Ordering,
} from "./db/books.js";
import type { CatalogSchema } from "./db/schema.js";
import { countMatches, markedWords, queryWords, searchPage, spellWords, tsqueryText } from "./db/search.js";
import { bookNotFound, categoryNotFound, FieldError, invalidField, invalidPageToken, queryTooLong } from "./errors.js";
import { decodePageToken, digest, encodePageToken } from "./page-token.js";
import {
  type BookInput,
  checkBook,
  checkBookFields,
  checkBookIds,
  checkPageSize,
  checkUpdateMask,
  parseBookId,
} from "./validation.js";

/** What the handlers need. */
export interface CatalogHandlerDeps {
  readonly database: Database<CatalogSchema>;
  readonly bus: Pick<EventBus<CatalogSchema>, "publish">;
}

export const MAX_QUERY_LENGTH = 200;
/** ImportBooks writes this many records per transaction. */
export const IMPORT_BATCH = 100;
/** ImportBooks returns at most this many errors (failed_count counts them all). */
export const MAX_IMPORT_ERRORS = 1000;

const ORDER_NAMES = Object.keys(ORDERINGS) as Ordering[];

function checkOrderBy(value: string): Ordering {
  if (value === "") return "title";
  if ((ORDER_NAMES as string[]).includes(value)) return value as Ordering;
  throw invalidField("order_by", `order_by must be one of ${ORDER_NAMES.map((o) => `"${o}"`).join(", ")}`);
}

/** Creates the CatalogService handlers. */
export function createCatalogHandlers(
  deps: CatalogHandlerDeps,
): ServiceImplementation<typeof catalogV1.CatalogServiceService> {
  const { database, bus } = deps;
  const db = database.kysely;

  /** The category filter of a request: undefined for all; NOT_FOUND for an unknown id. */
  async function categoryFilter(categoryId: string, signal: AbortSignal): Promise<string | undefined> {
    if (categoryId === "") return undefined;
    if (!(await categoryIds(db, signal)).has(categoryId)) throw categoryNotFound();
    return categoryId;
  }

  async function loadBook(bookId: string) {
    const id = parseBookId(bookId);
    const row = id === undefined ? undefined : await findBook(db, id);
    if (row === undefined) throw bookNotFound();
    return row;
  }

  return {
    async listCategories(_request, context) {
      const rows = await listCategories(db, context.signal);
      return {
        categories: rows.map((r) => ({
          categoryId: r.category_id,
          displayName: r.display_name,
          description: r.description,
          bookCount: r.book_count,
        })),
      };
    },

    async listBooks(request, context) {
      const ordering = checkOrderBy(request.orderBy);
      const limit = checkPageSize(request.pageSize, 100, 20);
      const categoryId = await categoryFilter(request.categoryId, context.signal);
      const keyType = ORDERINGS[ordering].type;
      const token = decodePageToken<{ o: string; c: string; k: string | number; i: string }>(
        request.pageToken,
        { o: "string", c: "string", k: keyType, i: "string" },
        { o: ordering, c: request.categoryId },
      );
      if (token !== undefined && parseBookId(token.i) === undefined) throw invalidPageToken();
      const [rows, totalSize] = await Promise.all([
        listBookPage(
          db,
          { categoryId, ordering, after: token && { key: token.k, id: token.i }, limit: limit + 1 },
          context.signal,
        ),
        countBooks(db, categoryId, context.signal),
      ]);
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      return {
        books: page.map(bookOf),
        nextPageToken:
          rows.length > limit && last !== undefined
            ? encodePageToken({ o: ordering, c: request.categoryId, k: last.sort_key, i: last.id })
            : "",
        totalSize,
      };
    },

    async getBook(request) {
      return { book: bookOf(await loadBook(request.bookId)) };
    },

    async batchGetBooks(request, context) {
      const ids = checkBookIds(request.bookIds);
      const valid = ids.filter((id) => parseBookId(id) !== undefined);
      const rows = new Map((await findBooks(db, valid, context.signal)).map((r) => [r.id, r]));
      return {
        books: ids.flatMap((id) => {
          const row = rows.get(id);
          return row === undefined ? [] : [bookOf(row)];
        }),
        missingBookIds: ids.filter((id) => !rows.has(id)),
      };
    },

    async searchBooks(request, context) {
      const query = request.query;
      if (query.trim() === "") throw invalidField("query", "query is required");
      if ([...query].length > MAX_QUERY_LENGTH) throw queryTooLong();
      const limit = checkPageSize(request.pageSize, 50, 20);
      const categoryId = await categoryFilter(request.categoryId, context.signal);
      const words = queryWords(query);
      const bound = digest(request.categoryId, ...words);
      const token = decodePageToken<{ q: string; s: number; i: string }>(
        request.pageToken,
        { q: "string", s: "number", i: "string" },
        { q: bound },
      );
      if (token !== undefined && parseBookId(token.i) === undefined) throw invalidPageToken();
      if (words.length === 0) return { results: [], nextPageToken: "", totalSize: 0 };

      const spelled = await spellWords(db, words, context.signal);
      const after = token && { score: token.s, id: token.i };
      const text = words.join(" ");
      const run = (tsquery: string) =>
        searchPage(db, { tsquery, text, categoryId, after, limit: limit + 1 }, context.signal);
      // Every word must match; when no book has them all, any word may.
      let tsquery = tsqueryText(spelled, false);
      let rows = await run(tsquery);
      if (rows.length === 0 && words.length > 1) {
        // An empty page after a token may only be the end of the results.
        if (token === undefined || (await countMatches(db, tsquery, categoryId, context.signal)) === 0) {
          tsquery = tsqueryText(spelled, true);
          rows = await run(tsquery);
        }
      }
      let totalSize = Number(rows[0]?.total ?? 0);
      if (rows[0] === undefined && token !== undefined) {
        totalSize = await countMatches(db, tsquery, categoryId, context.signal);
      }
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      return {
        results: page.map((row) => ({ book: bookOf(row), score: row.score, matchedTerms: markedWords(row.headline) })),
        nextPageToken:
          rows.length > limit && last !== undefined ? encodePageToken({ q: bound, s: last.score, i: last.id }) : "",
        totalSize,
      };
    },

    async getBookCover(request) {
      const row = await loadBook(request.bookId);
      const svg = renderCover({ id: row.id, title: row.title, authors: row.authors });
      return { contentType: "image/svg+xml", data: Buffer.from(svg, "utf8"), extensions: [] };
    },

    async createBook(request, context) {
      const input = checkBook(request.book, await categoryIds(db, context.signal));
      const row = await database.transaction((trx) => createBook(trx, bus, input));
      context.log.info({ book_id: row.id, isbn: row.isbn, actor: actorOf(context) }, "Book created");
      return { book: bookOf(row) };
    },

    async updateBook(request, context) {
      const book = request.book;
      if (book === undefined) throw invalidField("book", "book is required");
      if (book.bookId === "") throw invalidField("book.book_id", "book.book_id is required");
      const id = parseBookId(book.bookId);
      if (id === undefined) throw bookNotFound();
      const fields = checkUpdateMask(request.updateMask);
      const changes = checkBookFields(book, fields, await categoryIds(db, context.signal));
      const row = await database.transaction((trx) => updateBook(trx, bus, id, changes, book.etag));
      context.log.info({ book_id: row.id, fields, actor: actorOf(context) }, "Book updated");
      return { book: bookOf(row) };
    },

    async importBooks(requests, context) {
      const categories = await categoryIds(db, context.signal);
      const response = { createdCount: 0, updatedCount: 0, errors: [] as catalogV1.ImportError[], failedCount: 0 };
      const fail = (index: number, isbn: string, field: string, message: string) => {
        response.failedCount++;
        if (response.errors.length < MAX_IMPORT_ERRORS) response.errors.push({ index, isbn, field, message });
      };
      const count = (outcome: "created" | "updated") => {
        if (outcome === "created") response.createdCount++;
        else response.updatedCount++;
      };
      let batch: { readonly index: number; readonly input: BookInput }[] = [];

      async function flush(): Promise<void> {
        const records = batch;
        batch = [];
        if (records.length === 0) return;
        try {
          const outcomes = await database.transaction(async (trx) => {
            const done: ("created" | "updated")[] = [];
            for (const record of records) done.push(await upsertBook(trx, bus, record.input));
            return done;
          });
          outcomes.forEach(count);
        } catch {
          // One record that cannot be written (an ISBN another book took meanwhile, say) must not
          // sink its batch: each is written alone, and only the failing ones are reported.
          for (const record of records) {
            context.signal.throwIfAborted();
            try {
              count(await database.transaction((trx) => upsertBook(trx, bus, record.input)));
            } catch (error) {
              if (error instanceof AlreadyExists) fail(record.index, record.input.isbn, "isbn", error.message);
              else {
                context.log.warn({ err: error, index: record.index }, "Import record failed");
                fail(record.index, record.input.isbn, "", INTERNAL_ERROR_MESSAGE);
              }
            }
          }
        }
      }

      let index = 0;
      for await (const request of requests) {
        const at = index++;
        try {
          batch.push({ index: at, input: checkBook(request.book, categories) });
        } catch (error) {
          if (!(error instanceof FieldError)) throw error;
          fail(at, request.book?.isbn ?? "", error.field, error.message);
        }
        if (batch.length >= IMPORT_BATCH) await flush();
      }
      await flush();
      context.log.info(
        {
          created: response.createdCount,
          updated: response.updatedCount,
          failed: response.failedCount,
          actor: actorOf(context),
        },
        "Books imported",
      );
      return response;
    },
  };
}
