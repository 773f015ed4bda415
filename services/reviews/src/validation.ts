// Checks of every request field, as the proto documents them. A field's problem is
// INVALID_ARGUMENT with a google.rpc.BadRequest naming it (errors.ts).

import type { ReviewOrder } from "./db/reviews.js";
import {
  INVALID_ORDER_BY,
  INVALID_UPDATE_MASK,
  invalidField,
  RATING_OUT_OF_RANGE,
  TEXT_HAS_NUL,
  TEXT_TOO_LONG,
} from "./errors.js";

/** Longest book id, author id or review id, in characters. */
export const MAX_ID_LENGTH = 100;
/** Longest review text, in characters (code points, as PostgreSQL's char_length counts). */
export const MAX_TEXT_LENGTH = 2000;

// C0 and C1 control characters (NUL included): never part of an identifier.
// biome-ignore lint/suspicious/noControlCharactersInRegex: that is the point.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

const length = (value: string): number => [...value].length;

/** An identifier: 1 to 100 characters, no control characters. */
export function checkId(field: string, value: string): string {
  if (value.length === 0) throw invalidField(field, `${field} is required`);
  if (length(value) > MAX_ID_LENGTH) throw invalidField(field, `${field} must be at most ${MAX_ID_LENGTH} characters`);
  if (CONTROL.test(value)) throw invalidField(field, `${field} must not contain control characters`);
  return value;
}

/** A rating: a whole number from 1 to 5. */
export function checkRating(value: number): number {
  if (!Number.isInteger(value) || value < 1 || value > 5) throw invalidField("review.rating", RATING_OUT_OF_RANGE);
  return value;
}

/** Review text: plain text as typed, at most 2,000 characters; NUL cannot be stored. */
export function checkText(value: string): string {
  if (length(value) > MAX_TEXT_LENGTH) throw invalidField("review.text", TEXT_TOO_LONG);
  if (value.includes("\u0000")) throw invalidField("review.text", TEXT_HAS_NUL);
  return value;
}

/** ListReviews' order_by; empty means newest first. */
export function checkOrderBy(value: string): ReviewOrder {
  if (value === "") return "-create_time";
  if (value === "-create_time" || value === "-rating" || value === "rating") return value;
  throw invalidField("order_by", INVALID_ORDER_BY);
}

/** ListReviews' page size: 1 to 100; 0 means 20. */
export function checkPageSize(value: number): number {
  if (value === 0) return 20;
  if (!Number.isInteger(value) || value < 1 || value > 100) {
    throw invalidField("page_size", "page_size must be between 0 and 100");
  }
  return value;
}

/** UpdateReview's mask: which of rating and text change (empty: both). */
export function checkUpdateMask(paths: readonly string[] | undefined): { rating: boolean; text: boolean } {
  if (paths === undefined || paths.length === 0) return { rating: true, text: true };
  const mask = { rating: false, text: false };
  for (const path of paths) {
    if (path === "rating") mask.rating = true;
    else if (path === "text") mask.text = true;
    else throw invalidField("update_mask", INVALID_UPDATE_MASK);
  }
  return mask;
}

/** True for a UUID as review ids are written. */
export function isUuid(value: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);
}
