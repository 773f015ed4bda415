import { status } from "@grpc/grpc-js";
import { GrpcError } from "../errors.js";
import { callNext, type ServerCall, type ServerInterceptor } from "../interceptor.js";

// Errors that describe what the caller did (it cancelled, its deadline passed), not a bug here.
const CALLER_CODES = new Set<number>([status.CANCELLED, status.DEADLINE_EXCEEDED]);

/**
 * What {@link createExceptionToStatusInterceptor} does with a rejection: a {@link GrpcError} as
 * it is, anything else logged and converted. Internal; shared with the logging interceptor.
 */
export function statusErrorFor(call: ServerCall, error: unknown): GrpcError {
  if (error instanceof GrpcError) return error;
  const grpcError = GrpcError.from(error);
  const level = CALLER_CODES.has(grpcError.code) ? "debug" : "error";
  call.context.log[level](
    { err: error, grpc_code: grpcError.codeName },
    level === "error" ? "Unhandled error in gRPC handler" : "Call ended by the caller",
  );
  return grpcError;
}

/**
 * Normalises anything a handler throws into a {@link GrpcError}, the only thing the server turns
 * into a status. A {@link GrpcError} passes through untouched. Anything else is logged once at
 * `error` level (method, request id, the error with its stack) and becomes INTERNAL
 * "Internal server error", so no message or stack ever reaches the caller. Aborts caused by the
 * caller (CANCELLED, DEADLINE_EXCEEDED) are logged at `debug` instead: they are not our bugs.
 *
 * On success it costs one `then` on the rest of the chain, no async frame.
 */
export function createExceptionToStatusInterceptor(): ServerInterceptor {
  return (next) => (call) =>
    callNext(next, call).then(undefined, (error: unknown) => {
      throw statusErrorFor(call, error);
    });
}
