// Checks of every request field, as the proto documents them (errors.ts has the messages).
import { invalidField } from "./errors.js";

/** Longest id or address filter, in characters. */
export const MAX_TEXT_LENGTH = 320;

// C0 and C1 control characters (NUL included).
// biome-ignore lint/suspicious/noControlCharactersInRegex: that is the point.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** An optional filter: empty for none, else at most 320 characters without control characters. */
export function checkFilter(field: string, value: string): string | undefined {
  if (value === "") return undefined;
  if ([...value].length > MAX_TEXT_LENGTH) {
    throw invalidField(field, `${field} must be at most ${MAX_TEXT_LENGTH} characters`);
  }
  if (CONTROL.test(value)) throw invalidField(field, `${field} must not contain control characters`);
  return value;
}

/** A page size: 1 to 100; 0 means 50. */
export function checkPageSize(value: number): number {
  if (value === 0) return 50;
  if (!Number.isInteger(value) || value < 1 || value > 100) {
    throw invalidField("page_size", "page_size must be between 0 and 100");
  }
  return value;
}

/** True for a UUID as mail ids are written. */
export function isUuid(value: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);
}
