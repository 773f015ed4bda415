import { status } from "@grpc/grpc-js";
import { GrpcError } from "../errors.js";
import type { ServerInterceptor } from "../interceptor.js";

// Errors that describe what the caller did (it cancelled, its deadline passed), not a bug here.
const CALLER_CODES = new Set<number>([status.CANCELLED, status.DEADLINE_EXCEEDED]);

/**
 * Turns anything a handler (or an interceptor inside this one) throws into a {@link GrpcError},
 * the only thing the server turns into a status. A {@link GrpcError} passes through untouched.
 * Anything else is logged once at `error` through `context.log` (method, request id, the error
 * with its stack) and becomes INTERNAL "Internal server error", so no message or stack ever
 * reaches the caller. Aborts caused by the caller (CANCELLED, DEADLINE_EXCEEDED, e.g. a
 * downstream call that inherited the caller's deadline) are logged at `debug`: not our bugs.
 */
export function createExceptionToStatusInterceptor(): ServerInterceptor {
  return (next) => async (call) => {
    try {
      return await next(call);
    } catch (error) {
      if (error instanceof GrpcError) throw error;
      const grpcError = GrpcError.from(error);
      const level = CALLER_CODES.has(grpcError.code) ? "debug" : "error";
      call.context.log[level](
        { err: error, grpc_code: grpcError.codeName },
        level === "error" ? "Unhandled error in gRPC handler" : "Call ended by the caller",
      );
      throw grpcError;
    }
  };
}
