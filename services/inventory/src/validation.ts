// Checks of every request field, as the proto documents them. A field's problem is
// INVALID_ARGUMENT with a google.rpc.BadRequest naming it (errors.ts).
import { invalidField } from "./errors.js";

/** Longest book id, reservation key or idempotency key, in characters. */
export const MAX_ID_LENGTH = 100;
export const MAX_BOOK_IDS = 100;
export const MAX_LINES = 50;
export const MAX_LINE_QUANTITY = 100;
export const MAX_REASON_LENGTH = 200;
export const MAX_ADJUSTMENT = 100_000;
export const MIN_TTL_SECONDS = 1;
export const MAX_TTL_SECONDS = 3600;

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

/** 1 to 100 book ids, each checked; duplicates are kept once (first position). */
export function checkBookIds(field: string, values: readonly string[]): string[] {
  if (values.length === 0 || values.length > MAX_BOOK_IDS) {
    throw invalidField(field, `${field} must hold 1 to ${MAX_BOOK_IDS} ids`);
  }
  values.forEach((value, i) => {
    checkId(`${field}[${i}]`, value);
  });
  return [...new Set(values)];
}

/** AdjustStock's reason: 1 to 200 characters, no NUL. */
export function checkReason(value: string): string {
  if (value.trim().length === 0) throw invalidField("reason", "reason is required");
  if (length(value) > MAX_REASON_LENGTH) {
    throw invalidField("reason", `reason must be at most ${MAX_REASON_LENGTH} characters`);
  }
  if (value.includes("\u0000")) throw invalidField("reason", "reason must not contain NUL characters");
  return value;
}

/** AdjustStock's delta: not 0, at most 100,000 either way. */
export function checkDelta(value: number): number {
  if (!Number.isInteger(value) || value === 0 || Math.abs(value) > MAX_ADJUSTMENT) {
    throw invalidField(
      "delta",
      `delta must be a non-zero whole number between -${MAX_ADJUSTMENT} and ${MAX_ADJUSTMENT}`,
    );
  }
  return value;
}

/** ReserveStock's lines: 1 to 50, one per book, each quantity 1 to 100. */
export function checkLines(
  lines: readonly { readonly bookId: string; readonly quantity: number }[],
): { bookId: string; quantity: number }[] {
  if (lines.length === 0 || lines.length > MAX_LINES) {
    throw invalidField("lines", `lines must hold 1 to ${MAX_LINES} lines`);
  }
  const seen = new Set<string>();
  return lines.map((line, i) => {
    checkId(`lines[${i}].book_id`, line.bookId);
    if (seen.has(line.bookId)) throw invalidField(`lines[${i}].book_id`, "lines must name each book once");
    seen.add(line.bookId);
    if (!Number.isInteger(line.quantity) || line.quantity < 1 || line.quantity > MAX_LINE_QUANTITY) {
      throw invalidField(`lines[${i}].quantity`, `lines[${i}].quantity must be between 1 and ${MAX_LINE_QUANTITY}`);
    }
    return { bookId: line.bookId, quantity: line.quantity };
  });
}

/** ReserveStock's ttl in whole seconds (rounded up): 1 s to 1 h, or `fallback` when unset. */
export function checkTtl(
  ttl: { readonly seconds: number; readonly nanos: number } | undefined,
  fallback: number,
): number {
  if (ttl === undefined) return fallback;
  const seconds = ttl.seconds + ttl.nanos / 1e9;
  if (!(seconds >= MIN_TTL_SECONDS && seconds <= MAX_TTL_SECONDS)) {
    throw invalidField("ttl", "ttl must be between 1 s and 1 h");
  }
  return seconds;
}

/** ListStock's page size: 1 to 200; 0 means 50. */
export function checkPageSize(value: number): number {
  if (value === 0) return 50;
  if (!Number.isInteger(value) || value < 1 || value > 200) {
    throw invalidField("page_size", "page_size must be between 0 and 200");
  }
  return value;
}

/** True for a UUID as reservation ids are written. */
export function isUuid(value: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);
}
