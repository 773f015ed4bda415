import fastifyCookie from "@fastify/cookie";

/** What @fastify/cookie accepts as a custom `secret`: an object that signs and checks values. */
export interface CookieSigner {
  sign(value: string): string;
  unsign(signedValue: string): fastifyCookie.UnsignResult;
}

/** Default number of verified cookies remembered: far more than the shoppers one replica sees at once. */
export const DEFAULT_SIGNER_CACHE_SIZE = 10_000;

/**
 * @fastify/cookie's HMAC-SHA256 signer (same format, same secret rotation: the first secret
 * signs, any verifies) that remembers the cookies it has found valid. The homepage unsigns the
 * shopper's CSRF secret cookie on every view to put a token in the form; a returning shopper sends
 * the same signed value each time, so the HMAC and the constant-time comparison are done once per
 * value instead of once per page.
 *
 * Only valid results are cached, keyed by the whole signed string, so a cache hit is exactly what
 * a fresh check would return: a forged or altered cookie is a different key and always goes
 * through the full check (and never enters the cache). The cache is bounded (oldest entry
 * evicted first), so nobody can grow it without limit; evicting only costs one HMAC later.
 */
export function createCachedCookieSigner(
  secrets: string | readonly string[],
  maxEntries = DEFAULT_SIGNER_CACHE_SIZE,
): CookieSigner {
  if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) {
    throw new RangeError(`maxEntries must be a whole number >= 1, got ${maxEntries}`);
  }
  const signer = fastifyCookie.signerFactory(typeof secrets === "string" ? secrets : [...secrets], "sha256");
  const valid = new Map<string, { valid: true; renew: boolean; value: string }>();
  return {
    sign: (value) => signer.sign(value),
    unsign(signedValue) {
      const hit = valid.get(signedValue);
      if (hit !== undefined) return { ...hit };
      const result = signer.unsign(signedValue);
      if (result.valid && result.value !== null) {
        if (valid.size >= maxEntries) {
          // Maps iterate in insertion order: the first key is the oldest.
          const oldest = valid.keys().next();
          if (oldest.done !== true) valid.delete(oldest.value);
        }
        valid.set(signedValue, { valid: true, renew: result.renew, value: result.value });
      }
      return result;
    },
  };
}
