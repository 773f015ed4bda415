/**
 * The store's OAuth2 scopes (protos/bookstore/auth/v1/auth.proto names them on each method).
 * Accounts puts {@link SHOPPER_SCOPES} in every account token, and lets an admin grant any of
 * {@link CLIENT_SCOPES} to a third-party client.
 */
export const SHOPPER_SCOPES: readonly string[] = Object.freeze([
  "cart:read",
  "cart:write",
  "orders:read",
  "orders:write",
  "payments:write",
  "reviews:write",
]);

/** Every scope a client may be granted. */
export const CLIENT_SCOPES: readonly string[] = Object.freeze([...SHOPPER_SCOPES, "webhooks:manage"]);
