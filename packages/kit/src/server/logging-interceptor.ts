import { performance } from "node:perf_hooks";
import { status } from "@grpc/grpc-js";
import { GrpcError } from "../errors.js";
import type { ServerInterceptor } from "../interceptor.js";

const SERVER_FAULT_CODES = new Set<number>([status.INTERNAL, status.UNKNOWN, status.DATA_LOSS]);

/** The pino level the logging interceptor uses for a status code. */
export function levelForCode(code: status): "info" | "warn" | "error" {
  if (code === status.OK) return "info";
  return SERVER_FAULT_CODES.has(code) ? "error" : "warn";
}

/**
 * Writes exactly one structured line per call when it ends, through the call's logger (which
 * carries `method` and `request_id`): `grpc_code` (status name), `duration_ms`, `peer`, `kind`.
 * `info` for OK, `warn` for codes about the request (NOT_FOUND, INVALID_ARGUMENT, CANCELLED, …),
 * `error` for INTERNAL, UNKNOWN and DATA_LOSS. When the caller cancelled or the server ended the
 * call while draining, the line reports that outcome rather than what the handler later did.
 */
export function createLoggingInterceptor(): ServerInterceptor {
  return (next) => async (call) => {
    const started = performance.now();
    const write = (code: status): void => {
      const level = levelForCode(code);
      call.context.log[level](
        {
          grpc_code: status[code] ?? String(code),
          duration_ms: Math.round((performance.now() - started) * 1000) / 1000,
          peer: call.context.peer,
          kind: call.method.kind,
        },
        "gRPC call finished",
      );
    };
    const signal = call.context.signal;
    try {
      const result = await next(call);
      write(signal.aborted ? GrpcError.from(signal.reason).code : status.OK);
      return result;
    } catch (error) {
      write(GrpcError.from(signal.aborted ? signal.reason : error).code);
      throw error;
    }
  };
}
