import { randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import { status } from "@grpc/grpc-js";
import { REQUEST_ID_HEADER } from "../../context.js";
import { isServiceError } from "../../errors.js";
import type { ClientInterceptor } from "../../interceptor.js";
import type { Logger } from "../../logger.js";

/**
 * Every call carries `x-request-id`, so one request can be followed through the logs of every
 * service it touches: the one already in its metadata, else the parent call's, else a new UUID.
 */
export const requestIdInterceptor: ClientInterceptor = (next) => async (call) => {
  if (call.metadata.get(REQUEST_ID_HEADER).length === 0) {
    call.metadata.set(REQUEST_ID_HEADER, call.parent?.requestId ?? randomUUID());
  }
  return next(call);
};

/**
 * A call made while handling another call never outlives it: its deadline is capped by the
 * parent's, and it is cancelled when the parent's signal aborts (the parent's caller cancelled,
 * its deadline passed, or the server drained past its grace period).
 */
export const parentDeadlineInterceptor: ClientInterceptor = (next) => async (call) => {
  const parent = call.parent;
  if (parent === undefined) return next(call);
  return next({
    ...call,
    deadline: Math.min(call.deadline, parent.deadline),
    signal: call.signal === undefined ? parent.signal : AbortSignal.any([call.signal, parent.signal]),
  });
};

/**
 * One line per call when it ends: `debug` "grpc client call" for OK, `warn` "grpc client call
 * failed" otherwise (with `details`), each with `method`, `code`, `duration_ms`, `target` and
 * `request_id`. One line per call, not per attempt: retries happen below it, so `duration_ms`
 * includes any backoff. A call whose request stream threw was cancelled by the kit: CANCELLED.
 */
export function createClientLoggingInterceptor(logger: Logger): ClientInterceptor {
  return (next) => async (call) => {
    const started = performance.now();
    const fields = (code: number) => ({
      method: call.method.path,
      code: status[code] ?? String(code),
      duration_ms: Math.round((performance.now() - started) * 10) / 10,
      target: call.target,
      request_id: call.metadata.get(REQUEST_ID_HEADER)[0]?.toString(),
    });
    try {
      const response = await next(call);
      if (logger.isLevelEnabled("debug")) logger.debug(fields(status.OK), "grpc client call");
      return response;
    } catch (error) {
      const failure = isServiceError(error)
        ? { ...fields(error.code), details: error.details }
        : { ...fields(status.CANCELLED), details: error instanceof Error ? error.message : String(error) };
      logger.warn(failure, "grpc client call failed");
      throw error;
    }
  };
}
