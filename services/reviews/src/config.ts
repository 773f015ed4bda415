import { envBool, envInt } from "@obfy/kit/core";

/** The Reviews' own settings (the kit reads the rest: ports, database, event bus, TLS, ...). */
export interface ReviewsConfig {
  /**
   * `REVIEWS_VERIFIED_ONLY`: only shoppers who received the book may review it (the proto's
   * rule, default `true`). `false` lets anyone with a token review; their reviews are then
   * simply not marked verified, until an OrderDelivered for the book arrives.
   */
  readonly verifiedOnly: boolean;
  /** `CATALOG_TIMEOUT_MS`: the time budget of one Catalog GetBook call. */
  readonly catalogTimeoutMs: number;
}

/** Reads {@link ReviewsConfig}; a bad value throws naming the variable. */
export function readReviewsConfig(env: NodeJS.ProcessEnv): ReviewsConfig {
  return {
    verifiedOnly: envBool(env, "REVIEWS_VERIFIED_ONLY", true),
    catalogTimeoutMs: envInt(env, "CATALOG_TIMEOUT_MS", 2000, { min: 50, max: 60_000 }),
  };
}
