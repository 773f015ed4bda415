// Card checks without a database: Luhn, brands, the test cards, expiry.
import assert from "node:assert/strict";
import { test } from "node:test";
import { cardBehaviour, cardBrand, cardDigits, hasExpired, passesLuhn } from "./cards.js";

test("Luhn: the test cards pass, a changed digit fails", () => {
  for (const number of [
    "4242424242424242",
    "5555555555554444",
    "378282246310005",
    "4000000000000002",
    "4000000000000259",
  ]) {
    assert.ok(passesLuhn(number), number);
    const changed = number.slice(0, -1) + String((Number(number.at(-1)) + 1) % 10);
    assert.ok(!passesLuhn(changed), changed);
  }
});

test("digits: spaces and dashes go, anything else refuses; 12 to 19 digits", () => {
  assert.equal(cardDigits("4242 4242-4242 4242"), "4242424242424242");
  assert.equal(cardDigits("4242 4242 4242 424x"), undefined);
  assert.equal(cardDigits("42424242424"), undefined);
  assert.equal(cardDigits("4".repeat(20)), undefined);
  assert.equal(cardDigits("４２４２４２４２４２４２４２４２"), undefined, "full-width digits are not digits");
});

test("brands by their leading digits", () => {
  assert.equal(cardBrand("4242424242424242"), "visa");
  assert.equal(cardBrand("5555555555554444"), "mastercard");
  assert.equal(cardBrand("2223003122003222"), "mastercard");
  assert.equal(cardBrand("378282246310005"), "amex");
  assert.equal(cardBrand("6011111111111117"), "discover");
  assert.equal(cardBrand("3530111333300000"), "unknown");
});

test("the test cards' behaviours; others succeed", () => {
  assert.equal(cardBehaviour("4000000000000002"), "decline");
  assert.equal(cardBehaviour("4000000000009995"), "insufficient_funds");
  assert.equal(cardBehaviour("4000000000000119"), "processing_error");
  assert.equal(cardBehaviour("4000000000000259"), "timeout");
  assert.equal(cardBehaviour("4242424242424242"), "succeed");
});

test("a card is good through the end of its month (UTC)", () => {
  const now = new Date(Date.UTC(2026, 11, 31, 23, 59));
  assert.equal(hasExpired(12, 2026, now), false);
  assert.equal(hasExpired(11, 2026, now), true);
  assert.equal(hasExpired(1, 2027, now), false);
  assert.equal(hasExpired(12, 2025, now), true);
});
