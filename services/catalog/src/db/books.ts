// Queries on books, categories and the search vocabulary.
import { type Kysely, type Selectable, sql, type Transaction } from "@obfy/kit/db";
import type { BookInput } from "../validation.js";
import type { CatalogSchema } from "./schema.js";

type Db = Kysely<CatalogSchema> | Transaction<CatalogSchema>;

/** A book as read. */
export type BookRow = Selectable<CatalogSchema["books"]>;

const BOOK_COLUMNS = [
  "id",
  "isbn",
  "title",
  "authors",
  "description",
  "category_ids",
  "publication_year",
  "page_count",
  "price_minor",
  "currency_code",
  "rating_average",
  "rating_count",
  "rating_version",
  "version",
  "created_at",
  "updated_at",
] as const;

function values(input: BookInput) {
  return {
    isbn: input.isbn,
    title: input.title,
    authors: [...input.authors],
    description: input.description,
    category_ids: [...input.categoryIds],
    publication_year: input.publicationYear,
    page_count: input.pageCount,
    price_minor: input.priceMinor,
    currency_code: input.currencyCode,
  };
}

/** The books of `ids` that exist (any order); ids must be valid book ids. */
export function findBooks(db: Db, ids: readonly string[], signal?: AbortSignal): Promise<BookRow[]> {
  if (ids.length === 0) return Promise.resolve([]);
  return db
    .selectFrom("books")
    .select(BOOK_COLUMNS)
    .where("id", "in", [...ids])
    .execute({ signal });
}

/** One book by id, locked for the rest of `trx` when `lock`. */
export function findBook(db: Db, id: string, options: { readonly lock?: boolean } = {}): Promise<BookRow | undefined> {
  const query = db.selectFrom("books").select(BOOK_COLUMNS).where("id", "=", id);
  return (options.lock ? query.forUpdate() : query).executeTakeFirst();
}

/** One book by ISBN, locked for the rest of `trx` when `lock`. */
export function findBookByIsbn(
  db: Db,
  isbn: string,
  options: { readonly lock?: boolean } = {},
): Promise<BookRow | undefined> {
  const query = db.selectFrom("books").select(BOOK_COLUMNS).where("isbn", "=", isbn);
  return (options.lock ? query.forUpdate() : query).executeTakeFirst();
}

/**
 * Inserts a book unless its ISBN is taken (a concurrent insert of the same ISBN waits for the
 * other transaction); undefined when it was.
 */
export function insertBook(trx: Db, input: BookInput): Promise<BookRow | undefined> {
  return trx
    .insertInto("books")
    .values(values(input))
    .onConflict((c) => c.column("isbn").doNothing())
    .returning(BOOK_COLUMNS)
    .executeTakeFirst();
}

/** Inserts numbered books in one statement (the seed, into an empty table). */
export function insertNumberedBooks(
  trx: Db,
  books: readonly { readonly id: string; readonly input: BookInput }[],
): Promise<BookRow[]> {
  if (books.length === 0) return Promise.resolve([]);
  return trx
    .insertInto("books")
    .values(books.map((b) => ({ ...values(b.input), id: b.id })))
    .returning(BOOK_COLUMNS)
    .execute();
}

/** Replaces the given facts of book `id`; the trigger moves version and update time when something changed. */
export function updateBookFacts(trx: Db, id: string, input: Partial<BookInput>): Promise<BookRow> {
  const set: Record<string, unknown> = {};
  if (input.isbn !== undefined) set.isbn = input.isbn;
  if (input.title !== undefined) set.title = input.title;
  if (input.authors !== undefined) set.authors = [...input.authors];
  if (input.description !== undefined) set.description = input.description;
  if (input.categoryIds !== undefined) set.category_ids = [...input.categoryIds];
  if (input.publicationYear !== undefined) set.publication_year = input.publicationYear;
  if (input.pageCount !== undefined) set.page_count = input.pageCount;
  if (input.priceMinor !== undefined) set.price_minor = input.priceMinor;
  if (input.currencyCode !== undefined) set.currency_code = input.currencyCode;
  return trx.updateTable("books").set(set).where("id", "=", id).returning(BOOK_COLUMNS).executeTakeFirstOrThrow();
}

/** True when there is no book at all. */
export async function booksAreEmpty(db: Db): Promise<boolean> {
  return (await db.selectFrom("books").select("id").limit(1).executeTakeFirst()) === undefined;
}

/** Moves the id sequence past the highest id (after the seed inserted numbered books). */
export async function syncBookIdSequence(trx: Db): Promise<void> {
  await sql`select setval(pg_get_serial_sequence('books', 'id'), greatest((select max(id) from books), 1))`.execute(
    trx,
  );
}

/** Adds the words of `texts` to the search vocabulary (words of 3 letters or more). */
export async function addSearchWords(trx: Db, texts: readonly string[]): Promise<void> {
  if (texts.length === 0) return;
  await sql`
    insert into search_words (word)
    select distinct word from unnest(tsvector_to_array(to_tsvector('simple', ${texts.join(" ")}))) as word
    where length(word) >= 3
    on conflict do nothing`.execute(trx);
}

/** Stores a rating summary from Reviews when `version` is newer than the one held; true when stored. */
export async function setRating(
  trx: Db,
  id: string,
  rating: { readonly average: number; readonly count: number; readonly version: number },
): Promise<boolean> {
  const result = await trx
    .updateTable("books")
    .set({ rating_average: rating.average, rating_count: rating.count, rating_version: rating.version })
    .where("id", "=", id)
    .where("rating_version", "<", String(rating.version))
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

// ---- Categories -------------------------------------------------------------------------------

/** A category with its number of books. */
export interface CategoryRow {
  readonly category_id: string;
  readonly display_name: string;
  readonly description: string;
  readonly book_count: number;
}

/** Every category in display order, with the number of books in each. */
export async function listCategories(db: Db, signal?: AbortSignal): Promise<CategoryRow[]> {
  const rows = await db
    .selectFrom("categories as c")
    .select(["c.category_id", "c.display_name", "c.description"])
    .select(sql<string>`(select count(*) from books b where b.category_ids @> array[c.category_id])`.as("book_count"))
    .orderBy("c.position")
    .execute({ signal });
  return rows.map((r) => ({ ...r, book_count: Number(r.book_count) }));
}

/** The ids of every category. */
export async function categoryIds(db: Db, signal?: AbortSignal): Promise<Set<string>> {
  const rows = await db.selectFrom("categories").select("category_id").execute({ signal });
  return new Set(rows.map((r) => r.category_id));
}

/** Makes the categories table hold `categories` (in this order); books keep theirs. */
export async function upsertCategories(
  trx: Db,
  categories: readonly { readonly categoryId: string; readonly displayName: string; readonly description: string }[],
): Promise<void> {
  if (categories.length === 0) return;
  await trx
    .insertInto("categories")
    .values(
      categories.map((c, position) => ({
        category_id: c.categoryId,
        display_name: c.displayName,
        description: c.description,
        position,
      })),
    )
    .onConflict((c) =>
      c.column("category_id").doUpdateSet((eb) => ({
        display_name: eb.ref("excluded.display_name"),
        description: eb.ref("excluded.description"),
        position: eb.ref("excluded.position"),
      })),
    )
    .execute();
}

// ---- Listing ---------------------------------------------------------------------------------

/** ListBooks' orderings: the sort key and its direction; ties go by id in the same direction. */
export const ORDERINGS = {
  // By code point, whatever the database's collation, so pages and tests agree everywhere.
  title: { key: sql`lower(title) collate "C"`, descending: false, type: "string" },
  publication_year: { key: sql`publication_year`, descending: false, type: "number" },
  "-publication_year": { key: sql`publication_year`, descending: true, type: "number" },
  price: { key: sql`price_minor`, descending: false, type: "number" },
  "-price": { key: sql`price_minor`, descending: true, type: "number" },
  "-rating": { key: sql`rating_average`, descending: true, type: "number" },
} as const;
export type Ordering = keyof typeof ORDERINGS;

/** Where a page starts: after the book with this sort key and id. */
export interface Cursor {
  readonly key: string | number;
  readonly id: string;
}

/** A listed book with the sort key its cursor needs. */
export type ListedRow = BookRow & { readonly sort_key: string | number };

/** One page of books in `ordering`, after `after`, optionally of one category. */
export async function listBookPage(
  db: Db,
  options: {
    readonly categoryId: string | undefined;
    readonly ordering: Ordering;
    readonly after: Cursor | undefined;
    readonly limit: number;
  },
  signal?: AbortSignal,
): Promise<ListedRow[]> {
  const { key, descending, type } = ORDERINGS[options.ordering];
  let query = db.selectFrom("books").select(BOOK_COLUMNS).select(key.as("sort_key"));
  if (options.categoryId !== undefined) {
    query = query.where(sql<boolean>`category_ids @> array[${options.categoryId}]::text[]`);
  }
  const after = options.after;
  if (after !== undefined) {
    query = query.where(
      descending
        ? sql<boolean>`(${key}, id) < (${after.key}, ${after.id}::bigint)`
        : sql<boolean>`(${key}, id) > (${after.key}, ${after.id}::bigint)`,
    );
  }
  const rows = await query
    .orderBy(key, descending ? "desc" : "asc")
    .orderBy("id", descending ? "desc" : "asc")
    .limit(options.limit)
    .execute({ signal });
  // bigint keys (prices) arrive as strings; the cursor keeps them as numbers.
  return rows.map((r) => ({ ...r, sort_key: type === "number" ? Number(r.sort_key) : String(r.sort_key) }));
}

/** How many books (of one category). */
export async function countBooks(db: Db, categoryId: string | undefined, signal?: AbortSignal): Promise<number> {
  let query = db.selectFrom("books").select(sql<string>`count(*)`.as("n"));
  if (categoryId !== undefined) query = query.where(sql<boolean>`category_ids @> array[${categoryId}]::text[]`);
  return Number((await query.executeTakeFirstOrThrow({ signal })).n);
}
