import type { CategorySlug } from "./categories.js";
import type { PageBook } from "./homepage.js";

/** The connectivity of the channel to Recommendations, as grpc-js names the states. */
export type RecommendationsConnectivity = "IDLE" | "CONNECTING" | "READY" | "TRANSIENT_FAILURE" | "SHUTDOWN";

/** Per-call options of {@link Recommendations.recommend}. */
export interface RecommendOptions {
  /** Aborts the call, e.g. when the browser goes away. */
  readonly signal?: AbortSignal;
}

/**
 * What the Marketplace needs from the Recommendations service. The app depends on this small
 * interface, not on gRPC: production uses `createRecommendationsClient`, tests may use a real
 * server behind it or a purpose-built double.
 */
export interface Recommendations {
  /**
   * Up to `maxResults` distinct books of `category`. Rejects (never hangs past its deadline) when
   * the service is down, slow, or answers with an error.
   */
  recommend(category: CategorySlug, maxResults: number, options?: RecommendOptions): Promise<PageBook[]>;
  /** The channel's current state, for the readiness report. Never starts a connection attempt. */
  connectivity(): RecommendationsConnectivity;
}
