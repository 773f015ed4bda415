import { performance } from "node:perf_hooks";
import { status } from "@grpc/grpc-js";
import type { MethodInfo } from "../context.js";
import { GrpcError } from "../errors.js";
import { callNext, type ServerCall, type ServerInterceptor } from "../interceptor.js";
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

/** What one "gRPC call finished" line carries besides pino's own fields and the logger's bindings. */
interface CallLine {
  request_id?: string;
  grpc_code: string;
  duration_ms: number;
  peer: string;
  kind?: string;
}

/**
 * Children of the server's logger binding each method's `method` and `kind`, made on a method's
 * first call: pino serialises a child's bindings once, not on every line (≈0.3 µs per line).
 * The line has the same fields; only their order differs. A child made without a level of its
 * own reads the parent's through its prototype, so a later `logger.level = …` still applies.
 */
class MethodLoggers {
  readonly #parent: Logger;
  readonly #byMethod = new WeakMap<MethodInfo, Logger>();

  constructor(parent: Logger) {
    this.#parent = parent;
  }

  for(method: MethodInfo): Logger {
    let child = this.#byMethod.get(method);
    if (child === undefined) {
      child = this.#parent.child({ method: method.path, kind: method.kind });
      this.#byMethod.set(method, child);
    }
    return child;
  }
}

function codeName(code: number): string {
  return status[code] ?? String(code);
}

function writeLine(call: ServerCall, loggers: MethodLoggers | undefined, code: number, started: number): void {
  const level = levelForCode(code);
  const target = loggers ? loggers.for(call.method) : call.context.log;
  if (!target.isLevelEnabled(level)) return;
  const context = call.context;
  const line: CallLine = loggers
    ? {
        request_id: context.requestId,
        grpc_code: codeName(code),
        duration_ms: Math.round((performance.now() - started) * 1000) / 1000,
        peer: context.peer,
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
  const loggers = options.logger ? new MethodLoggers(options.logger) : undefined;
  const statusErrors = options.statusErrors === true;
  return (next) => (call) => {
    const started = performance.now();
    return callNext(next, call).then(
      (response) => {
        writeLine(call, loggers, call.context.abortReason?.code ?? status.OK, started);
        return response;
      },
      (error: unknown) => {
        const thrown = statusErrors ? statusErrorFor(call, error) : error;
        writeLine(call, loggers, (call.context.abortReason ?? GrpcError.from(thrown)).code, started);
        throw thrown;
      },
    );
  };
}
