// Checks of every request field, as the proto documents them. A field's problem is
// INVALID_ARGUMENT with a google.rpc.BadRequest naming it (errors.ts).
import { invalidField, QUANTITY_LIMIT } from "./errors.js";

/** Copies of one book a line may hold (the proto's max_quantity_per_line). */
export const MAX_QUANTITY_PER_LINE = 10;
/** Different books a cart may hold: what one Catalog BatchGetBooks and one order take. */
export const MAX_LINES = 50;
/** Longest book id, in characters. */
export const MAX_ID_LENGTH = 100;

// C0 and C1 control characters (NUL included): never part of an identifier.
// biome-ignore lint/suspicious/noControlCharactersInRegex: that is the point.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** A book id: 1 to 100 characters, no control characters. */
export function checkBookId(value: string): string {
  if (value.length === 0) throw invalidField("book_id", "book_id is required");
  if ([...value].length > MAX_ID_LENGTH) {
    throw invalidField("book_id", `book_id must be at most ${MAX_ID_LENGTH} characters`);
  }
  if (CONTROL.test(value)) throw invalidField("book_id", "book_id must not contain control characters");
  return value;
}

/** AddCartLine's quantity: 1 to the limit (the sum with the line's is checked later). */
export function checkAddQuantity(value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw invalidField("quantity", `quantity must be between 1 and ${MAX_QUANTITY_PER_LINE}`);
  }
  if (value > MAX_QUANTITY_PER_LINE) throw invalidField("quantity", QUANTITY_LIMIT);
  return value;
}

/** UpdateCartLine's quantity: 0 (remove) to the limit. */
export function checkNewQuantity(value: number): number {
  if (!Number.isInteger(value) || value < 0) {
    throw invalidField("quantity", `quantity must be between 0 and ${MAX_QUANTITY_PER_LINE}`);
  }
  if (value > MAX_QUANTITY_PER_LINE) throw invalidField("quantity", QUANTITY_LIMIT);
  return value;
}

/** A UUID in its canonical lower-case form, or undefined. */
export function canonicalUuid(value: string): string | undefined {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value)
    ? value.toLowerCase()
    : undefined;
}
