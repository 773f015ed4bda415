import { performance } from "node:perf_hooks";
import { InterceptingCall, type Interceptor, ListenerBuilder, RequesterBuilder, status } from "@grpc/grpc-js";
import type { Logger } from "../logger.js";
import { REQUEST_ID_HEADER } from "../server/method-handler.js";

/** Options for {@link createClientLoggingInterceptor}. */
export interface ClientLoggingInterceptorOptions {
  /** Where the lines go. */
  logger: Logger;
  /** The channel target, logged on every line to tell upstreams apart. */
  target: string;
}

/**
 * A grpc-js client interceptor that writes one line per call when its status arrives: `debug`
 * for OK, `warn` otherwise, with `method`, `code`, `duration_ms`, `target` and `request_id`
 * (plus `details` on failures). One line per call, not per attempt: grpc-js retries happen
 * below interceptors, so `duration_ms` includes any backoff.
 *
 * Put it after the request-id interceptor so the id it logs is the one that was sent.
 */
export function createClientLoggingInterceptor(options: ClientLoggingInterceptorOptions): Interceptor {
  const { logger, target } = options;
  return (callOptions, nextCall) => {
    const method = callOptions.method_definition.path;
    return new InterceptingCall(
      nextCall(callOptions),
      new RequesterBuilder()
        .withStart((metadata, _listener, next) => {
          const startedAt = performance.now();
          const requestId = metadata.get(REQUEST_ID_HEADER)[0]?.toString();
          next(
            metadata,
            new ListenerBuilder()
              .withOnReceiveStatus((callStatus, nextStatus) => {
                const fields = {
                  method,
                  code: status[callStatus.code] ?? String(callStatus.code),
                  duration_ms: Math.round((performance.now() - startedAt) * 10) / 10,
                  target,
                  request_id: requestId,
                };
                if (callStatus.code === status.OK) {
                  logger.debug(fields, "grpc client call");
                } else {
                  logger.warn({ ...fields, details: callStatus.details }, "grpc client call failed");
                }
                nextStatus(callStatus);
              })
              .build(),
          );
        })
        .build(),
    );
  };
}
