import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fastifyCookie from "@fastify/cookie";
import { createCachedCookieSigner } from "./cached-cookie-signer.js";

const SECRET = "a-cookie-secret-of-at-least-32-characters";
const OLD_SECRET = "the-previous-cookie-secret-of-32-characters";

describe("createCachedCookieSigner", () => {
  test("signs exactly as @fastify/cookie does, and checks its signatures", () => {
    const signer = createCachedCookieSigner(SECRET);
    const signed = signer.sign("csrf-secret");
    assert.equal(signed, fastifyCookie.sign("csrf-secret", SECRET));
    assert.deepEqual(signer.unsign(signed), { valid: true, renew: false, value: "csrf-secret" });
    // A second check of the same value (from the cache) answers the same.
    assert.deepEqual(signer.unsign(signed), { valid: true, renew: false, value: "csrf-secret" });
  });

  test("a tampered, unsigned or foreign-secret value is invalid, also after the real one was cached", () => {
    const signer = createCachedCookieSigner(SECRET);
    const signed = signer.sign("csrf-secret");
    assert.equal(signer.unsign(signed).valid, true);
    const invalid = { valid: false, renew: false, value: null };
    assert.deepEqual(signer.unsign(`x${signed}`), invalid);
    assert.deepEqual(signer.unsign(`${signed.slice(0, -1)}A`), invalid);
    assert.deepEqual(signer.unsign("csrf-secret"), invalid);
    assert.deepEqual(signer.unsign(fastifyCookie.sign("csrf-secret", OLD_SECRET)), invalid);
  });

  test("rotation: the first secret signs, older ones still verify and ask for renewal", () => {
    const signer = createCachedCookieSigner([SECRET, OLD_SECRET]);
    assert.equal(signer.sign("v"), fastifyCookie.sign("v", SECRET));
    const old = fastifyCookie.sign("v", OLD_SECRET);
    assert.deepEqual(signer.unsign(old), { valid: true, renew: true, value: "v" });
    assert.deepEqual(signer.unsign(old), { valid: true, renew: true, value: "v" });
  });

  test("the cache is bounded and a caller cannot change what it holds", () => {
    const signer = createCachedCookieSigner(SECRET, 2);
    const values = ["a", "b", "c"].map((v) => signer.sign(v));
    for (const signed of values) assert.equal(signer.unsign(signed).valid, true);
    // Evicted or not, every value still checks out the same.
    for (const [i, signed] of values.entries()) assert.equal(signer.unsign(signed).value, ["a", "b", "c"][i]);
    const result = signer.unsign(values[2] ?? "");
    if (result.valid) result.value = "changed";
    assert.equal(signer.unsign(values[2] ?? "").value, "c");
    assert.throws(() => createCachedCookieSigner(SECRET, 0), /maxEntries must be a whole number >= 1/);
  });
});
