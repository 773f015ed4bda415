import { performance } from "node:perf_hooks";
import { status } from "@grpc/grpc-js";
import { GrpcError } from "../errors.js";
import type { ServerCall, ServerInterceptor } from "../interceptor.js";
import type { Logger } from "../logger.js";
import { statusErrorFor } from "./exception-to-status.js";

const SERVER_FAULT_CODES = new Set<number>([status.INTERNAL, status.UNKNOWN, status.DATA_LOSS]);

/** The pino level the logging interceptor uses for a status code. */
export function levelForCode(code: status): "info" | "warn" | "error" {
  if (code === status.OK) return "info";
  return SERVER_FAULT_CODES.has(code) ? "error" : "warn";
}

/** Options for {@link createLoggingInterceptor}. */
export interface LoggingInterceptorOptions {
  /**
   * Writes the lines through this logger with `method` and `request_id` as fields, instead of
   * through each call's `context.log` (a pino child per call). `createServer` passes its logger.
   */
  logger?: Logger;
  /**
   * Also do what {@link createExceptionToStatusInterceptor} does, as if it ran right inside this
   * interceptor, in the same step: one promise and one microtask per call fewer. `createServer`
   * sets it.
   */
  statusErrors?: boolean;
}

/** What one "gRPC call finished" line carries besides pino's own fields. */
interface CallLine {
  method?: string;
  request_id?: string;
  grpc_code: string;
  duration_ms: number;
  peer: string;
  kind: string;
}

function codeName(code: number): string {
  return status[code] ?? String(code);
}

function writeLine(call: ServerCall, logger: Logger | undefined, code: number, started: number): void {
  const level = levelForCode(code);
  const target = logger ?? call.context.log;
  if (!target.isLevelEnabled(level)) return;
  const context = call.context;
  const line: CallLine = logger
    ? {
        method: call.method.path,
        request_id: context.requestId,
        grpc_code: codeName(code),
        duration_ms: Math.round((performance.now() - started) * 1000) / 1000,
        peer: context.peer,
        kind: call.method.kind,
      }
    : {
        grpc_code: codeName(code),
        duration_ms: Math.round((performance.now() - started) * 1000) / 1000,
        peer: context.peer,
        kind: call.method.kind,
      };
  target[level](line, "gRPC call finished");
}

/**
 * Writes exactly one structured line per call when it ends, with `method` and `request_id`,
 * `grpc_code` (status name), `duration_ms`, `peer`, `kind`.
 * `info` for OK, `warn` for codes about the request (NOT_FOUND, INVALID_ARGUMENT, CANCELLED, …),
 * `error` for INTERNAL, UNKNOWN and DATA_LOSS. When the caller cancelled or the server ended the
 * call while draining, the line reports that outcome rather than what the handler later did.
 *
 * Nothing is built for a line whose level is disabled. It adds no async frame: one `then` on the
 * rest of the chain.
 */
export function createLoggingInterceptor(options: LoggingInterceptorOptions = {}): ServerInterceptor {
  const logger = options.logger;
  const statusErrors = options.statusErrors === true;
  return (next) => (call) => {
    const started = performance.now();
    let result: Promise<unknown>;
    try {
      result = next(call);
    } catch (error) {
      result = Promise.reject(error);
    }
    return result.then(
      (response) => {
        writeLine(call, logger, call.context.abortReason?.code ?? status.OK, started);
        return response;
      },
      (error: unknown) => {
        const thrown = statusErrors ? statusErrorFor(call, error) : error;
        writeLine(call, logger, (call.context.abortReason ?? GrpcError.from(thrown)).code, started);
        throw thrown;
      },
    );
  };
}
