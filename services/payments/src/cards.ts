// Card checks and the simulated processor's test cards. A card number lives only in the
// CreatePaymentMethod request: these functions derive what is kept (brand, last four, how the
// simulated processor answers) and the number goes no further.
import type { CardBehaviour } from "./db/schema.js";

/** A card brand as PaymentMethod.brand names it. */
export type CardBrand = "visa" | "mastercard" | "amex" | "discover" | "unknown";

/**
 * The test cards with a behaviour other than success (protos/bookstore/payments/v1/payments.proto
 * lists them); any other number that passes the Luhn check succeeds.
 */
export const TEST_CARD_BEHAVIOURS: ReadonlyMap<string, CardBehaviour> = new Map<string, CardBehaviour>([
  ["4000000000000002", "decline"],
  ["4000000000009995", "insufficient_funds"],
  ["4000000000000119", "processing_error"],
  ["4000000000000259", "timeout"],
]);

/** The digits of a typed number with spaces and dashes removed; undefined when anything else is in it. */
export function cardDigits(number: string): string | undefined {
  const digits = number.replace(/[\s-]/g, "");
  return /^[0-9]{12,19}$/.test(digits) ? digits : undefined;
}

/** The Luhn (mod 10) check of a string of digits. */
export function passesLuhn(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let digit = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return sum % 10 === 0;
}

/** The brand, from the number's leading digits (IIN ranges). */
export function cardBrand(digits: string): CardBrand {
  const two = Number(digits.slice(0, 2));
  const three = Number(digits.slice(0, 3));
  const four = Number(digits.slice(0, 4));
  if (digits.startsWith("4")) return "visa";
  if ((two >= 51 && two <= 55) || (four >= 2221 && four <= 2720)) return "mastercard";
  if (two === 34 || two === 37) return "amex";
  if (four === 6011 || two === 65 || (three >= 644 && three <= 649)) return "discover";
  return "unknown";
}

/** How the simulated processor answers for this number. */
export function cardBehaviour(digits: string): CardBehaviour {
  return TEST_CARD_BEHAVIOURS.get(digits) ?? "succeed";
}

/** True when a card valid through the end of `month`/`year` has expired at `now` (UTC). */
export function hasExpired(month: number, year: number, now: Date): boolean {
  const nowYear = now.getUTCFullYear();
  const nowMonth = now.getUTCMonth() + 1;
  return year < nowYear || (year === nowYear && month < nowMonth);
}
