import { performance } from "node:perf_hooks";
import { status } from "@grpc/grpc-js";
import { GrpcError } from "../errors.js";
import type { ServerInterceptor } from "../interceptor.js";
import type { Logger } from "../logger.js";

const SERVER_FAULT_CODES = new Set<number>([status.INTERNAL, status.UNKNOWN, status.DATA_LOSS]);

/** The pino level of a call's line: `info` for OK, `error` for INTERNAL, UNKNOWN and DATA_LOSS, else `warn`. */
export function levelForCode(code: status): "info" | "warn" | "error" {
  if (code === status.OK) return "info";
  return SERVER_FAULT_CODES.has(code) ? "error" : "warn";
}

/**
 * Writes exactly one line per call through `logger` when the call ends, "gRPC call finished"
 * with `method`, `request_id`, `grpc_code` (status name), `duration_ms`, `peer` and `kind`, at
 * {@link levelForCode}'s level. When the caller cancelled or the server ended the call while
 * draining, the line reports that outcome rather than what the handler did afterwards. Nothing
 * is built for a line whose level is disabled.
 */
export function createLoggingInterceptor(logger: Logger): ServerInterceptor {
  return (next) => async (call) => {
    const started = performance.now();
    let code: number = status.OK;
    try {
      return await next(call);
    } catch (error) {
      code = GrpcError.from(error).code;
      throw error;
    } finally {
      const context = call.context;
      code = context.abortReason?.code ?? code;
      const level = levelForCode(code);
      if (logger.isLevelEnabled(level)) {
        logger[level](
          {
            method: call.method.path,
            request_id: context.requestId,
            grpc_code: status[code] ?? String(code),
            duration_ms: Math.round((performance.now() - started) * 1000) / 1000,
            peer: context.peer,
            kind: call.method.kind,
          },
          "gRPC call finished",
        );
      }
    }
  };
}
