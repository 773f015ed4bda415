import { status } from "@grpc/grpc-js";
import { REQUEST_ID_HEADER } from "../../context.js";
import type { ClientInterceptor } from "../../interceptor.js";
import type { Logger } from "../../logger.js";
import { ClientError } from "../client-error.js";
import { DEFAULT_REISSUE, type ReissueOptions } from "../client-options.js";

/** Options of {@link createReissueInterceptor}. */
export interface ReissueInterceptorOptions extends ReissueOptions {
  /** Paths (`/pkg.Service/Method`) of the methods that are safe to run twice; only their unary calls are re-issued. */
  readonly methods: Iterable<string>;
  /** Gets an `info` line per re-issue and a `debug` line per re-issue the budget refused. */
  readonly logger: Logger;
}

/** The token bucket of {@link ReissueOptions}, shared by every call of one interceptor. */
class ReissueBudget {
  #tokens: number;
  readonly #maxTokens: number;
  readonly #tokenRatio: number;

  constructor(maxTokens: number, tokenRatio: number) {
    if (!(maxTokens >= 1 && Number.isFinite(maxTokens))) {
      throw new RangeError(`reissue.maxTokens must be a number >= 1, got ${maxTokens}`);
    }
    if (!(tokenRatio > 0 && Number.isFinite(tokenRatio))) {
      throw new RangeError(`reissue.tokenRatio must be a number > 0, got ${tokenRatio}`);
    }
    this.#tokens = maxTokens;
    this.#maxTokens = maxTokens;
    this.#tokenRatio = tokenRatio;
  }

  take(): boolean {
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  earn(): void {
    this.#tokens = Math.min(this.#maxTokens, this.#tokens + this.#tokenRatio);
  }
}

/**
 * The one retry the kit adds beside grpc-js's own: a unary call of a method in `methods` that
 * failed UNAVAILABLE after its response headers had arrived is made once more.
 *
 * Why: grpc-js retries (gRFC A6, configured from the protos' idempotency levels) commit a call as
 * soon as response headers arrive and never retry it afterwards. A server that dies (SIGKILL,
 * crash) after writing a call's headers and message but before its trailers fails that call
 * with UNAVAILABLE ("read ECONNRESET", "Connection dropped") even when healthy replicas are a
 * pick away. For a unary call nothing has reached the caller yet (its response is delivered
 * only with the OK status), so a method that is safe to run twice can be called again.
 *
 * A call is re-issued when all hold: unary, its path is in `methods`, it failed UNAVAILABLE
 * after response headers, the caller has not cancelled it, its deadline has time left, and the
 * budget ({@link ReissueOptions}, one bucket per client) has a token. At most once per call. The
 * re-issue goes through the rest of the chain with the same metadata (`x-request-id`,
 * `traceparent`), message, absolute deadline and signal, so it never extends the caller's budget,
 * and grpc-js's retry policy applies to it as to any call. `createClient` puts it innermost:
 * tracing, metrics and the log line see one call whose duration includes the re-issue.
 */
export function createReissueInterceptor(options: ReissueInterceptorOptions): ClientInterceptor {
  const budget = new ReissueBudget(
    options.maxTokens ?? DEFAULT_REISSUE.maxTokens,
    options.tokenRatio ?? DEFAULT_REISSUE.tokenRatio,
  );
  const methods: ReadonlySet<string> = new Set(options.methods);
  const { logger } = options;
  return (next) => async (call) => {
    if (call.method.kind !== "unary" || !methods.has(call.method.path)) return next(call);
    let response: unknown;
    try {
      response = await next(call);
    } catch (error) {
      const afterHeaders =
        error instanceof ClientError && error.code === status.UNAVAILABLE && error.responseHeaders !== undefined;
      const remainingMs = call.deadline - Date.now();
      if (!afterHeaders || call.signal?.aborted || !(remainingMs > 0)) throw error;
      const allowed = budget.take();
      // `info`: a re-issue means a server died mid-call, rare and worth seeing (the budget bounds
      // the lines). A refused one is `debug`: the call's own failure line follows at `warn`.
      const level = allowed ? "info" : "debug";
      if (logger.isLevelEnabled(level)) {
        logger[level](
          {
            method: call.method.path,
            target: call.target,
            request_id: call.metadata.get(REQUEST_ID_HEADER)[0]?.toString(),
            remaining_ms: Number.isFinite(remainingMs) ? Math.round(remainingMs) : null,
            details: error.details,
          },
          allowed
            ? "grpc client call re-issued: connection lost after response headers"
            : "grpc client call not re-issued: re-issue budget spent",
        );
      }
      if (!allowed) throw error;
      response = await next(call);
    }
    budget.earn();
    return response;
  };
}
