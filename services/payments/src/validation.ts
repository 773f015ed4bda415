// Checks of every request field, as the proto documents them. A field's problem is
// INVALID_ARGUMENT with a google.rpc.BadRequest naming it (errors.ts).
import type { paymentsV1 } from "@obfy/protos";
import { type CardBrand, cardBehaviour, cardBrand, cardDigits, hasExpired, passesLuhn } from "./cards.js";
import type { CardBehaviour } from "./db/schema.js";
import {
  CARD_EXPIRED,
  CARD_NUMBER_INVALID,
  CVC_INVALID,
  EXPIRY_MONTH_INVALID,
  EXPIRY_YEAR_INVALID,
  type FieldViolation,
  invalidField,
  invalidFields,
} from "./errors.js";

/** Longest id or idempotency key, in characters. */
export const MAX_ID_LENGTH = 100;
/** Largest amount, in minor units ($1,000,000.00). */
export const MAX_AMOUNT_MINOR = 100_000_000;

// C0 and C1 control characters (NUL included): never part of an identifier.
// biome-ignore lint/suspicious/noControlCharactersInRegex: that is the point.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** An identifier: 1 to 100 characters, no control characters. */
export function checkId(field: string, value: string): string {
  if (value.length === 0) throw invalidField(field, `${field} is required`);
  if ([...value].length > MAX_ID_LENGTH) {
    throw invalidField(field, `${field} must be at most ${MAX_ID_LENGTH} characters`);
  }
  if (CONTROL.test(value)) throw invalidField(field, `${field} must not contain control characters`);
  return value;
}

/** What is kept of a valid card. */
export interface CheckedCard {
  readonly brand: CardBrand;
  readonly last4: string;
  readonly expMonth: number;
  readonly expYear: number;
  readonly behaviour: CardBehaviour;
}

/**
 * Checks a card as typed: number (12 to 19 digits, spaces and dashes ignored, Luhn), expiry
 * (month 1 to 12, four-digit year, not past), CVC (3 digits, 4 for American Express). Every
 * field's problem is reported at once, on the proto's field names.
 */
export function checkCard(card: paymentsV1.CardDetails | undefined, now: Date): CheckedCard {
  if (card === undefined) throw invalidField("card", "card is required");
  const violations: FieldViolation[] = [];
  const digits = cardDigits(card.number);
  const valid = digits !== undefined && passesLuhn(digits);
  if (!valid) violations.push({ field: "number", description: CARD_NUMBER_INVALID });
  const monthValid = Number.isInteger(card.expMonth) && card.expMonth >= 1 && card.expMonth <= 12;
  const yearValid = Number.isInteger(card.expYear) && card.expYear >= 1000 && card.expYear <= 9999;
  if (!monthValid) violations.push({ field: "exp_month", description: EXPIRY_MONTH_INVALID });
  if (!yearValid) violations.push({ field: "exp_year", description: EXPIRY_YEAR_INVALID });
  if (monthValid && yearValid && hasExpired(card.expMonth, card.expYear, now)) {
    violations.push({ field: "exp_year", description: CARD_EXPIRED });
  }
  const brand = valid ? cardBrand(digits) : "unknown";
  const cvcLength = brand === "amex" ? 4 : 3;
  if (!new RegExp(`^[0-9]{${cvcLength}}$`).test(card.cvc)) violations.push({ field: "cvc", description: CVC_INVALID });
  if (violations.length > 0 || !valid) throw invalidFields(violations);
  return {
    brand,
    last4: digits.slice(-4),
    expMonth: card.expMonth,
    expYear: card.expYear,
    behaviour: cardBehaviour(digits),
  };
}

/** An amount: USD (the store's currency), 1 to 100,000,000 minor units. */
export function checkAmount(
  field: string,
  amount: { readonly currencyCode: string; readonly amountMinor: number } | undefined,
): { currencyCode: string; amountMinor: number } {
  if (amount === undefined) throw invalidField(field, `${field} is required`);
  if (amount.currencyCode !== "USD") throw invalidField(`${field}.currency_code`, `${field} must be in USD`);
  if (!Number.isInteger(amount.amountMinor) || amount.amountMinor < 1 || amount.amountMinor > MAX_AMOUNT_MINOR) {
    throw invalidField(`${field}.amount_minor`, `${field}.amount_minor must be between 1 and ${MAX_AMOUNT_MINOR}`);
  }
  return { currencyCode: amount.currencyCode, amountMinor: amount.amountMinor };
}

/** A page size: 1 to 100; 0 means 50. */
export function checkPageSize(value: number): number {
  if (value === 0) return 50;
  if (!Number.isInteger(value) || value < 1 || value > 100) {
    throw invalidField("page_size", "page_size must be between 0 and 100");
  }
  return value;
}

/** True for a UUID as payment ids are written. */
export function isUuid(value: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);
}
