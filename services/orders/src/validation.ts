// Checks of every request field, as the proto documents them. A field's problem is
// INVALID_ARGUMENT with a google.rpc.BadRequest naming it (errors.ts).
import type { addressV1 } from "@obfy/protos";
import type { StoredAddress } from "./db/schema.js";
import { invalidField } from "./errors.js";

export const MAX_ID_LENGTH = 100;
export const MAX_LINES = 50;
export const MAX_LINE_QUANTITY = 10;
export const MAX_REASON_LENGTH = 200;

// C0 and C1 control characters (NUL included): never part of an identifier or an address.
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

/** True for a UUID as order ids are written. */
export function isUuid(value: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);
}

/** PlaceOrder's lines: 1 to 50, one per book, each quantity 1 to 10. */
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

function checkText(field: string, value: string, max: number): string {
  const trimmed = value.trim();
  if (trimmed.length === 0) throw invalidField(field, `${field} is required`);
  if (length(trimmed) > max) throw invalidField(field, `${field} must be at most ${max} characters`);
  if (CONTROL.test(trimmed)) throw invalidField(field, `${field} must not contain control characters`);
  return trimmed;
}

/** The shipping address: every field required, plain text, region an ISO 3166-1 alpha-2 code. */
export function checkAddress(address: addressV1.PostalAddress | undefined): StoredAddress {
  if (address === undefined) throw invalidField("shipping_address", "shipping_address is required");
  const regionCode = address.regionCode.trim().toUpperCase();
  if (!/^[A-Z]{2}$/.test(regionCode)) {
    throw invalidField(
      "shipping_address.region_code",
      "shipping_address.region_code must be a two-letter country code",
    );
  }
  return {
    recipientName: checkText("shipping_address.recipient_name", address.recipientName, 100),
    addressLine: checkText("shipping_address.address_line", address.addressLine, 200),
    locality: checkText("shipping_address.locality", address.locality, 100),
    postalCode: checkText("shipping_address.postal_code", address.postalCode, 20),
    regionCode,
  };
}

/** A reason shown to the shopper: 1 to 200 characters, no NUL. */
export function checkReason(value: string): string {
  const trimmed = value.trim();
  if (trimmed.length === 0) throw invalidField("reason", "reason is required");
  if (length(trimmed) > MAX_REASON_LENGTH) {
    throw invalidField("reason", `reason must be at most ${MAX_REASON_LENGTH} characters`);
  }
  if (trimmed.includes("\u0000")) throw invalidField("reason", "reason must not contain NUL characters");
  return trimmed;
}

/** ListOrders' page size: 1 to 100; 0 means 20. */
export function checkPageSize(value: number): number {
  if (value === 0) return 20;
  if (!Number.isInteger(value) || value < 1 || value > 100) {
    throw invalidField("page_size", "page_size must be between 0 and 100");
  }
  return value;
}

/** ListOrders' search text: at most 200 characters, no NUL. */
export function checkSearch(value: string): string {
  if (length(value) > 200) throw invalidField("search", "search must be at most 200 characters");
  if (value.includes("\u0000")) throw invalidField("search", "search must not contain NUL characters");
  return value.trim();
}
