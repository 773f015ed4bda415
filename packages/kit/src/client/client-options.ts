import type { ChannelCredentials, ChannelOptions, Metadata } from "@grpc/grpc-js";
import type { ClientInterceptor } from "../interceptor.js";
import type { Logger } from "../logger.js";
import type { GenericServiceDefinition } from "../server/service.js";

/** Per-call options, the last argument of every client method. */
export interface CallOptions {
  /**
   * Time budget for this call in ms. Defaults to the client's `defaultTimeoutMs`; `Infinity`
   * removes the default (the call then ends only with the parent's deadline, if any).
   */
  timeoutMs?: number;
  /** Absolute deadline (a Date or ms since the epoch). With `timeoutMs` too, the earlier wins. */
  deadline?: Date | number;
  /** Request headers. A Metadata object is copied, never changed. */
  metadata?: Metadata | Record<string, string>;
  /** Aborting it cancels the call: the promise rejects / the iteration throws a CANCELLED `ClientError`. */
  signal?: AbortSignal;
}

/** Keepalive pings on idle connections. See {@link DEFAULT_KEEPALIVE} for why the defaults are what they are. */
export interface KeepaliveOptions {
  /** Ping after this long without activity, in ms. Default 300 000 (5 minutes). */
  timeMs?: number;
  /** Close the connection when a ping gets no answer within this many ms. Default 20 000. */
  timeoutMs?: number;
  /** Ping even with no call in flight. Default false. */
  permitWithoutCalls?: boolean;
}

/**
 * Keepalive defaults, safe for servers and proxies.
 *
 * Keepalive pings find connections that died silently (a NAT or load balancer dropped the flow,
 * a node vanished) before a call hangs on them. But servers police pings: grpc-go's default
 * enforcement allows one every 5 minutes (MinTime) and none without active calls, and answers
 * anything more frequent with GOAWAY `too_many_pings`, which kills the connection and every
 * call on it (grpc-java and grpc-core enforce similar limits, as do Envoy-based proxies). So the
 * client pings no more often than every 5 minutes and only while calls are in flight; the 20 s
 * timeout is gRPC's own default. Lower `timeMs` only against servers configured to permit it.
 */
export const DEFAULT_KEEPALIVE: Readonly<Required<KeepaliveOptions>> = {
  timeMs: 300_000,
  timeoutMs: 20_000,
  permitWithoutCalls: false,
};

/** How fast a channel reconnects after a connection attempt fails. */
export interface ReconnectBackoffOptions {
  /** Wait before the first reconnect, in ms. Default 100. */
  initialMs?: number;
  /** Longest wait between reconnects, in ms. Default 10 000. */
  maxMs?: number;
}

/**
 * Reconnect defaults. gRPC's own are 1 s initial and 120 s max. With them a channel whose server
 * restarted keeps refusing picks for a second, longer than the whole retry budget (about 0.7 s
 * with the default retry policy), so retries could never reach the restarted server; and after
 * a long outage a client could wait two minutes to notice the server is back. Between services
 * in one cluster a failed TCP connect costs next to nothing, so reconnect sooner.
 */
export const DEFAULT_RECONNECT_BACKOFF: Readonly<Required<ReconnectBackoffOptions>> = { initialMs: 100, maxMs: 10_000 };

/** Default time budget of a call when neither `timeoutMs` nor `deadline` is given. */
export const DEFAULT_CLIENT_TIMEOUT_MS = 5000;

/**
 * Retry policy for methods that are safe to retry (gRFC A6, implemented by grpc-js). Backoff
 * before attempt n+1 is `min(initialBackoffMs * backoffMultiplier^(n-1), maxBackoffMs)` with
 * ±20% jitter.
 */
export interface RetryOptions {
  /** Total attempts including the first; 2..5 (grpc-js caps it at 5). Default 4. */
  maxAttempts?: number;
  /** Backoff before the first retry. Default 100 ms. */
  initialBackoffMs?: number;
  /** Upper bound on one backoff. Default 1000 ms. */
  maxBackoffMs?: number;
  /** Growth factor between backoffs. Default 2. */
  backoffMultiplier?: number;
}

/** Resolved defaults of {@link RetryOptions}. */
export const DEFAULT_RETRY: Readonly<Required<RetryOptions>> = {
  maxAttempts: 4,
  initialBackoffMs: 100,
  maxBackoffMs: 1000,
  backoffMultiplier: 2,
};

/**
 * Retry throttling (gRFC A6): a token bucket per target. Each failed attempt costs 1 token, each
 * success earns `tokenRatio`; retries stop while tokens are at or below `maxTokens / 2`.
 */
export interface RetryThrottlingOptions {
  /** Bucket size, 1..1000. Default 100. */
  maxTokens: number;
  /** Tokens earned per successful call, > 0 (three decimals at most). Default 0.1. */
  tokenRatio: number;
}

/**
 * Default throttle. Each failed attempt costs a token, each successful call earns 0.1, and retries
 * go out only while more than half of the 100 tokens are left. The bucket must be larger than twice
 * the number of calls that can fail at once: when a replica is killed, every call in flight on its
 * connection fails together, and grpc-js checks the throttle when each retry's backoff ends, after
 * all of those failures were counted (the multi-host test saw 4 to 8 such calls per connection;
 * with 10 tokens their retries were all refused and shoppers saw errors). A target that fails
 * everything still stops getting retries after about 50 failed attempts, so retries cannot
 * multiply the load on a struggling server for long, and they resume as calls succeed again.
 */
export const DEFAULT_RETRY_THROTTLING: Readonly<RetryThrottlingOptions> = { maxTokens: 100, tokenRatio: 0.1 };

/**
 * The budget of the re-issue after response headers (see `ClientOptions.reissue`): a token
 * bucket per client. It starts full; each re-issue spends one token, each call that ends OK
 * earns `tokenRatio` (up to `maxTokens`), and a call is re-issued only while a whole token is
 * left. So at most `maxTokens` calls are re-issued in a burst, and after that at most
 * `tokenRatio` re-issues go out per successful call: a backend that drops every call after its
 * headers adds about 10% load by default, never double.
 */
export interface ReissueOptions {
  /** Bucket size and burst, >= 1. Default 20. */
  maxTokens?: number;
  /** Tokens earned per call that ends OK, > 0. Default 0.1. */
  tokenRatio?: number;
}

/** Resolved defaults of {@link ReissueOptions}. */
export const DEFAULT_REISSUE: Readonly<Required<ReissueOptions>> = { maxTokens: 20, tokenRatio: 0.1 };

/** Options for `createClient`. */
export interface ClientOptions<D extends GenericServiceDefinition = GenericServiceDefinition> {
  /** Channel credentials. Default: insecure (plaintext), for loopback and service meshes that add TLS. */
  credentials?: ChannelCredentials;
  /** Deadline of calls that set none, in ms from the call's start. Default 5000. Every call has a deadline. */
  defaultTimeoutMs?: number;
  /** Retry policy for retryable methods, or `false` to never retry. Defaults: see {@link RetryOptions}. */
  retry?: RetryOptions | false;
  /**
   * Method keys of this service to retry on UNAVAILABLE, replacing what the proto says. By default a
   * method is retried only when it is declared `option idempotency_level = NO_SIDE_EFFECTS` or
   * `IDEMPOTENT`: a retry after UNAVAILABLE may run a call the server already started.
   */
  retryableMethods?: readonly (keyof D & string)[];
  /** Retry throttling, or `false` for none. Default {@link DEFAULT_RETRY_THROTTLING} (`{ maxTokens: 100, tokenRatio: 0.1 }`). */
  retryThrottling?: RetryThrottlingOptions | false;
  /**
   * Re-issue once a unary call of a retryable method that failed UNAVAILABLE after its response
   * headers arrived (which grpc-js never retries), within the call's deadline and a budget; or
   * `false` to never do it. Default {@link DEFAULT_REISSUE}. Also off with `retry: false`.
   */
  reissue?: ReissueOptions | false;
  /**
   * Load-balancing policy. `round_robin` (default) connects to every address the target resolves
   * to and spreads calls over the ready ones; `pick_first` uses one connection.
   */
  loadBalancing?: "round_robin" | "pick_first";
  /** Keepalive settings; defaults in {@link DEFAULT_KEEPALIVE}. */
  keepalive?: KeepaliveOptions;
  /** Reconnect backoff; defaults in {@link DEFAULT_RECONNECT_BACKOFF}. */
  reconnectBackoff?: ReconnectBackoffOptions;
  /** Raw grpc-js channel options, applied last (they override everything above). */
  channelOptions?: ChannelOptions;
  /**
   * The application's client interceptors (e.g. tracing, then metrics), run after the kit's request
   * id, deadline and logging interceptors, outermost first. The `x-request-id` header is already in
   * the metadata they see.
   */
  interceptors?: readonly ClientInterceptor[];
  /**
   * Logger for the one-line-per-call log. Default: `createLogger({ name: "grpc-client" })`
   * (`LOG_LEVEL`, `LOG_FORMAT`), so at the default `info` level only failed calls are logged.
   */
  logger?: Logger;
}
