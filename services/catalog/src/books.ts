// Books in the API's shape, and the changes that publish events: every change of a book and
// its events commit in one transaction (the kit's outbox).
import type { Transaction } from "@obfy/kit/db";
import type { EventBus } from "@obfy/kit/events";
import { catalogEventsV1, type catalogV1 } from "@obfy/protos";
import {
  addSearchWords,
  type BookRow,
  findBook,
  findBookByIsbn,
  insertBook,
  insertNumberedBooks,
  syncBookIdSequence,
  updateBookFacts,
} from "./db/books.js";
import type { CatalogSchema } from "./db/schema.js";
import { bookChanged, bookNotFound, isbnExists } from "./errors.js";
import type { BookInput } from "./validation.js";

type Bus = Pick<EventBus<CatalogSchema>, "publish">;
type Trx = Transaction<CatalogSchema>;

function timestamp(date: Date): { seconds: number; nanos: number } {
  const ms = date.getTime();
  const seconds = Math.floor(ms / 1000);
  return { seconds, nanos: (ms - seconds * 1000) * 1_000_000 };
}

/** The etag of a book's current version (AIP-154: changes on every update). */
export function etagOf(row: Pick<BookRow, "version">): string {
  return `"${row.version}"`;
}

/** A stored book in the API's shape. */
export function bookOf(row: BookRow): catalogV1.Book {
  return {
    bookId: row.id,
    isbn: row.isbn,
    title: row.title,
    authors: row.authors,
    description: row.description,
    categoryIds: row.category_ids,
    publicationYear: row.publication_year,
    pageCount: row.page_count,
    price: { currencyCode: row.currency_code, amountMinor: Number(row.price_minor) },
    coverUri: `/v1/books/${row.id}/cover`,
    rating: { average: row.rating_average, count: row.rating_count },
    createTime: timestamp(row.created_at),
    updateTime: timestamp(row.updated_at),
    etag: etagOf(row),
  };
}

/** What the events say about a book. */
export function factsOf(row: BookRow): catalogEventsV1.BookFacts {
  return {
    bookId: row.id,
    isbn: row.isbn,
    title: row.title,
    authors: row.authors,
    categoryIds: row.category_ids,
    publicationYear: row.publication_year,
    price: { currencyCode: row.currency_code, amountMinor: Number(row.price_minor) },
    version: Number(row.version),
  };
}

const searchTexts = (input: Partial<BookInput>): string[] =>
  [input.title, ...(input.authors ?? []), input.description].filter((t): t is string => t !== undefined);

/** Adds a book and publishes BookCreated; ALREADY_EXISTS when its ISBN is taken. */
export async function createBook(trx: Trx, bus: Bus, input: BookInput): Promise<BookRow> {
  const row = await tryCreateBook(trx, bus, input);
  if (row === undefined) throw isbnExists();
  return row;
}

/** Adds a book and publishes BookCreated, unless its ISBN is taken (undefined then). */
async function tryCreateBook(trx: Trx, bus: Bus, input: BookInput): Promise<BookRow | undefined> {
  const row = await insertBook(trx, input);
  if (row === undefined) return undefined;
  await addSearchWords(trx, searchTexts(input));
  await bus.publish(trx, catalogEventsV1.BookCreated, { book: factsOf(row) }, { subject: row.id });
  return row;
}

/** The seed's books, numbered from 1 in list order, into an empty table; each publishes BookCreated. */
export async function createNumberedBooks(trx: Trx, bus: Bus, inputs: readonly BookInput[]): Promise<void> {
  const rows = await insertNumberedBooks(
    trx,
    inputs.map((input, i) => ({ id: String(i + 1), input })),
  );
  await syncBookIdSequence(trx);
  await addSearchWords(trx, inputs.flatMap(searchTexts));
  for (const row of rows) {
    await bus.publish(trx, catalogEventsV1.BookCreated, { book: factsOf(row) }, { subject: row.id });
  }
}

/**
 * Changes the given facts of a locked book; publishes BookUpdated when something changed, and
 * BookPriceChanged too when the price did. An ISBN taken by another book is ALREADY_EXISTS.
 */
async function changeBook(trx: Trx, bus: Bus, before: BookRow, changes: Partial<BookInput>): Promise<BookRow> {
  if (changes.isbn !== undefined && changes.isbn !== before.isbn) {
    const holder = await findBookByIsbn(trx, changes.isbn);
    if (holder !== undefined) throw isbnExists();
  }
  const after = await updateBookFacts(trx, before.id, changes);
  if (after.version === before.version) return after;
  await addSearchWords(trx, searchTexts(changes));
  await bus.publish(trx, catalogEventsV1.BookUpdated, { book: factsOf(after) }, { subject: after.id });
  if (after.price_minor !== before.price_minor || after.currency_code !== before.currency_code) {
    await bus.publish(
      trx,
      catalogEventsV1.BookPriceChanged,
      {
        bookId: after.id,
        oldPrice: { currencyCode: before.currency_code, amountMinor: Number(before.price_minor) },
        newPrice: { currencyCode: after.currency_code, amountMinor: Number(after.price_minor) },
        version: Number(after.version),
      },
      { subject: after.id },
    );
  }
  return after;
}

/** UpdateBook: changes book `id`, refusing a stale etag (ABORTED) and an unknown book (NOT_FOUND). */
export async function updateBook(
  trx: Trx,
  bus: Bus,
  id: string,
  changes: Partial<BookInput>,
  etag: string,
): Promise<BookRow> {
  const before = await findBook(trx, id, { lock: true });
  if (before === undefined) throw bookNotFound();
  if (etag !== "" && etag !== etagOf(before)) throw bookChanged();
  return changeBook(trx, bus, before, changes);
}

/** ImportBooks' write: creates the book, or updates the one with its ISBN. */
export async function upsertBook(trx: Trx, bus: Bus, input: BookInput): Promise<"created" | "updated"> {
  let existing = await findBookByIsbn(trx, input.isbn, { lock: true });
  if (existing === undefined) {
    if ((await tryCreateBook(trx, bus, input)) !== undefined) return "created";
    // Another transaction created it after the look-up (the insert waited for its commit):
    // this record updates that book, as it would have a moment later.
    existing = await findBookByIsbn(trx, input.isbn, { lock: true });
    if (existing === undefined) throw isbnExists();
  }
  await changeBook(trx, bus, existing, input);
  return "updated";
}
