import { connectivityState } from "@grpc/grpc-js";
import { type ClientOptions, createClient } from "@obfy/kit/client";
import { joinHostPort, type Logger } from "@obfy/kit/core";
import { recommendationsV1 } from "@obfy/protos";
import type { CategorySlug } from "./categories.js";
import type { PageBook } from "./homepage.js";
import type { Recommendations, RecommendationsConnectivity } from "./recommendations.js";

const { BookCategory } = recommendationsV1;

const V1_CATEGORY: Readonly<Record<CategorySlug, recommendationsV1.BookCategory>> = {
  mystery: BookCategory.BOOK_CATEGORY_MYSTERY,
  "science-fiction": BookCategory.BOOK_CATEGORY_SCIENCE_FICTION,
  "self-help": BookCategory.BOOK_CATEGORY_SELF_HELP,
};

/** Default `RECOMMENDATIONS_TIMEOUT_MS`: leaves the page room to answer within about a second. */
export const DEFAULT_RECOMMENDATIONS_TIMEOUT_MS = 800;

/** Options of {@link createRecommendationsClient}; each maps to the environment variable named. */
export interface RecommendationsClientOptions {
  /** `RECOMMENDATIONS_HOST`: host name or IP address of the Recommendations service. */
  readonly host: string;
  /** `RECOMMENDATIONS_PORT`. */
  readonly port: number;
  /** `RECOMMENDATIONS_TIMEOUT_MS`: deadline of every call; {@link DEFAULT_RECOMMENDATIONS_TIMEOUT_MS} by default. */
  readonly timeoutMs?: number;
  /** Logger for the kit client's per-call lines. */
  readonly logger?: Logger;
  /** Channel credentials, from the kit's `createClientSecurity()` (`TLS_MODE`); plaintext by default. */
  readonly credentials?: ClientOptions["credentials"];
  /**
   * grpc-js interceptors after the kit's own: tracing first, then metrics
   * (`createGrpcClientTracingInterceptor`, `metrics.grpcClientInterceptor`).
   */
  readonly interceptors?: ClientOptions["interceptors"];
}

/** A {@link Recommendations} backed by gRPC, with the channel's lifecycle. */
export interface RecommendationsClient extends Recommendations {
  /** The gRPC target, e.g. `dns:///localhost:50051`. */
  readonly target: string;
  /** Closes the channel. Calls made afterwards throw. Idempotent. */
  close(): void;
}

/** The gRPC target for `host:port`, bracketing IPv6 literals. */
export function recommendationsTarget(host: string, port: number): string {
  // dns:/// re-resolves the name when connections fail, and with round_robin spreads calls over
  // every address it returns (e.g. a headless Kubernetes Service).
  return `dns:///${joinHostPort(host, port)}`;
}

/**
 * Calls `bookstore.recommendations.v1.RecommendationsService` over one long-lived channel (the
 * kit client: round_robin, reconnects on its own, retries UNAVAILABLE for this read-only method).
 *
 * Every call has a deadline of `timeoutMs` that covers waiting for a connection too, so a call
 * made while the service is down or slow fails within that budget instead of hanging. Calls are
 * fail-fast (grpc-js's default, no waitForReady): while the channel is in TRANSIENT_FAILURE they
 * fail at once, and the channel keeps reconnecting in the background so pages recover without a
 * restart.
 */
export function createRecommendationsClient(options: RecommendationsClientOptions): RecommendationsClient {
  const target = recommendationsTarget(options.host, options.port);
  const client = createClient(recommendationsV1.RecommendationsServiceService, target, {
    defaultTimeoutMs: options.timeoutMs ?? DEFAULT_RECOMMENDATIONS_TIMEOUT_MS,
    // Recommendations is our own grpc-js server, which accepts frequent pings (no ping-strike
    // policy), so find a silently dead replica (cable pulled, node gone) within ~15 s instead of
    // the kit's conservative 5 minutes: until then every call sent there waits out its deadline.
    keepalive: { timeMs: 10_000, timeoutMs: 5_000 },
    ...(options.logger === undefined ? {} : { logger: options.logger }),
    ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
    ...(options.interceptors === undefined ? {} : { interceptors: options.interceptors }),
  });
  return {
    target,
    async recommend(category, maxResults, callOptions) {
      const response = await client.recommend(
        recommendationsV1.RecommendRequest.fromPartial({ category: V1_CATEGORY[category], maxResults }),
        callOptions?.signal === undefined ? {} : { signal: callOptions.signal },
      );
      return response.recommendations.map((book): PageBook => ({ id: book.id, title: book.title }));
    },
    connectivity() {
      return connectivityState[client.channelState(false)] as RecommendationsConnectivity;
    },
    close() {
      client.close();
    },
  };
}
