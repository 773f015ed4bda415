// Checks of every request field, as the proto documents them. A field's problem is
// INVALID_ARGUMENT "<field> ..." with a google.rpc.BadRequest naming it (errors.ts).
import type { catalogV1 } from "@obfy/protos";
import { invalidField } from "./errors.js";

export const MAX_TITLE = 300;
export const MAX_AUTHORS = 10;
export const MAX_AUTHOR = 200;
export const MAX_DESCRIPTION = 5000;
export const MAX_CATEGORIES = 5;
export const MIN_YEAR = 1450;
export const MAX_PAGES = 50_000;
/** 100,000.00 in minor units. */
export const MAX_PRICE_MINOR = 10_000_000;
/** The store sells in one currency (docs/architecture.md). */
export const CURRENCY = "USD";
export const MAX_BOOK_IDS = 100;

// C0 and C1 control characters (NUL included): never part of a title or a name.
// biome-ignore lint/suspicious/noControlCharactersInRegex: that is the point.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
// In a description, line breaks and tabs are text; the other control characters are not.
// biome-ignore lint/suspicious/noControlCharactersInRegex: that is the point.
const CONTROL_BUT_LINES = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/;

const length = (value: string): number => [...value].length;

/** A book's writable facts, checked. */
export interface BookInput {
  readonly isbn: string;
  readonly title: string;
  readonly authors: readonly string[];
  readonly description: string;
  readonly categoryIds: readonly string[];
  readonly publicationYear: number;
  readonly pageCount: number;
  readonly priceMinor: number;
  readonly currencyCode: string;
}

/** The writable fields, by their proto names (UpdateBook's update_mask paths). */
export const WRITABLE_FIELDS = [
  "isbn",
  "title",
  "authors",
  "description",
  "category_ids",
  "publication_year",
  "page_count",
  "price",
] as const;
export type WritableField = (typeof WRITABLE_FIELDS)[number];

/** True when `value` is an ISBN-13: 13 digits whose last is the check digit of the others. */
export function isIsbn13(value: string): boolean {
  if (!/^\d{13}$/.test(value)) return false;
  let sum = 0;
  for (let i = 0; i < 12; i++) sum += Number(value[i]) * (i % 2 === 0 ? 1 : 3);
  return (10 - (sum % 10)) % 10 === Number(value[12]);
}

function text(field: string, value: string, max: number): string {
  if (value.trim().length === 0) throw invalidField(field, `${field} is required`);
  if (length(value) > max) throw invalidField(field, `${field} must be at most ${max} characters`);
  if (CONTROL.test(value)) throw invalidField(field, `${field} must not contain control characters`);
  return value;
}

/** Checks one writable field of `book`, returning its value as stored. */
function checkField(
  book: catalogV1.Book,
  field: WritableField,
  categories: ReadonlySet<string>,
): Partial<Record<keyof BookInput, unknown>> {
  switch (field) {
    case "isbn":
      if (book.isbn === "") throw invalidField("isbn", "isbn is required");
      if (!/^\d{13}$/.test(book.isbn)) throw invalidField("isbn", "isbn must be 13 digits without hyphens");
      if (!isIsbn13(book.isbn)) throw invalidField("isbn", "isbn has a wrong check digit");
      return { isbn: book.isbn };
    case "title":
      return { title: text("title", book.title, MAX_TITLE) };
    case "authors":
      if (book.authors.length === 0 || book.authors.length > MAX_AUTHORS) {
        throw invalidField("authors", `authors must hold 1 to ${MAX_AUTHORS} names`);
      }
      return { authors: book.authors.map((name, i) => text(`authors[${i}]`, name, MAX_AUTHOR)) };
    case "description":
      if (length(book.description) > MAX_DESCRIPTION) {
        throw invalidField("description", `description must be at most ${MAX_DESCRIPTION} characters`);
      }
      if (CONTROL_BUT_LINES.test(book.description)) {
        throw invalidField("description", "description must not contain control characters");
      }
      return { description: book.description };
    case "category_ids": {
      const ids = book.categoryIds;
      if (ids.length === 0 || ids.length > MAX_CATEGORIES) {
        throw invalidField("category_ids", `category_ids must hold 1 to ${MAX_CATEGORIES} categories`);
      }
      ids.forEach((id, i) => {
        if (!categories.has(id)) throw invalidField(`category_ids[${i}]`, `category_ids[${i}] is not a category`);
        if (ids.indexOf(id) !== i)
          throw invalidField(`category_ids[${i}]`, "category_ids must name each category once");
      });
      return { categoryIds: [...ids] };
    }
    case "publication_year": {
      const max = new Date().getUTCFullYear() + 1;
      if (!Number.isInteger(book.publicationYear) || book.publicationYear < MIN_YEAR || book.publicationYear > max) {
        throw invalidField("publication_year", `publication_year must be between ${MIN_YEAR} and ${max}`);
      }
      return { publicationYear: book.publicationYear };
    }
    case "page_count":
      if (!Number.isInteger(book.pageCount) || book.pageCount < 1 || book.pageCount > MAX_PAGES) {
        throw invalidField("page_count", `page_count must be between 1 and ${MAX_PAGES}`);
      }
      return { pageCount: book.pageCount };
    case "price": {
      const price = book.price;
      if (price === undefined) throw invalidField("price", "price is required");
      if (price.currencyCode !== CURRENCY) {
        throw invalidField("price.currency_code", `price.currency_code must be ${CURRENCY}`);
      }
      if (!Number.isSafeInteger(price.amountMinor) || price.amountMinor < 1 || price.amountMinor > MAX_PRICE_MINOR) {
        throw invalidField("price.amount_minor", `price.amount_minor must be between 1 and ${MAX_PRICE_MINOR}`);
      }
      return { priceMinor: price.amountMinor, currencyCode: price.currencyCode };
    }
  }
}

/** Checks a whole book (CreateBook, ImportBooks); output-only fields are ignored. */
export function checkBook(book: catalogV1.Book | undefined, categories: ReadonlySet<string>): BookInput {
  if (book === undefined) throw invalidField("book", "book is required");
  return Object.assign({}, ...WRITABLE_FIELDS.map((f) => checkField(book, f, categories))) as BookInput;
}

/** Checks the fields of `book` named by `fields` (UpdateBook). */
export function checkBookFields(
  book: catalogV1.Book,
  fields: readonly WritableField[],
  categories: ReadonlySet<string>,
): Partial<BookInput> {
  return Object.assign({}, ...fields.map((f) => checkField(book, f, categories))) as Partial<BookInput>;
}

/** UpdateBook's update_mask: known paths, each once; empty means every writable field. */
export function checkUpdateMask(paths: readonly string[] | undefined): WritableField[] {
  if (paths === undefined || paths.length === 0) return [...WRITABLE_FIELDS];
  const fields: WritableField[] = [];
  paths.forEach((path, i) => {
    // Paths inside price name the price as a whole.
    const field = path.startsWith("price.") ? "price" : path;
    if (!(WRITABLE_FIELDS as readonly string[]).includes(field)) {
      throw invalidField(`update_mask.paths[${i}]`, `update_mask.paths[${i}] is not a writable field`);
    }
    if (!fields.includes(field as WritableField)) fields.push(field as WritableField);
  });
  return fields;
}

/** A page size: 1 to `max`; 0 means `fallback`. */
export function checkPageSize(value: number, max: number, fallback: number): number {
  if (value === 0) return fallback;
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw invalidField("page_size", `page_size must be between 0 and ${max}`);
  }
  return value;
}

/** BatchGetBooks' ids: 1 to 100; duplicates are kept once (first position). */
export function checkBookIds(values: readonly string[]): string[] {
  if (values.length === 0 || values.length > MAX_BOOK_IDS) {
    throw invalidField("book_ids", `book_ids must hold 1 to ${MAX_BOOK_IDS} ids`);
  }
  return [...new Set(values)];
}

/** A book id as the Catalog assigns them (a positive bigint in decimal), or undefined. */
export function parseBookId(value: string): string | undefined {
  return /^[1-9]\d{0,17}$/.test(value) ? value : undefined;
}
