import { randomUUID } from "node:crypto";
import { InterceptingCall, type Interceptor, RequesterBuilder } from "@grpc/grpc-js";
import { currentContext } from "../context.js";
import { REQUEST_ID_HEADER } from "../server/method-handler.js";

/**
 * A grpc-js client interceptor that makes every call carry an `x-request-id` header, so one
 * request can be followed through the logs of every service it touches. The value is, in order:
 * the one already in the call's metadata, the request id of the call being handled on this async
 * path (`currentContext()`), or a new UUID.
 */
export function createClientRequestIdInterceptor(): Interceptor {
  return (options, nextCall) =>
    new InterceptingCall(
      nextCall(options),
      new RequesterBuilder()
        .withStart((metadata, listener, next) => {
          if (metadata.get(REQUEST_ID_HEADER).length === 0) {
            metadata.set(REQUEST_ID_HEADER, currentContext()?.requestId ?? randomUUID());
          }
          next(metadata, listener);
        })
        .build(),
    );
}
