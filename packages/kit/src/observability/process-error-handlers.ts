import type { Counter } from "prom-client";
import { currentContext } from "../context.js";
import type { Logger } from "../logger.js";

/** Options for {@link installProcessErrorHandlers}. */
export interface ProcessErrorHandlerOptions {
  /**
   * Exit (code 1) after logging an unhandled promise rejection. Default true, the same as
   * Node's own default (`--unhandled-rejections=throw`): a rejection nobody handles means state
   * nobody knows, and the orchestrator restarts the process. Set false to log, count and keep running.
   */
  exitOnUnhandledRejection?: boolean;
  /** How to exit; default `process.exit`. Tests and services with their own shutdown pass another. */
  exit?: (code: number) => void;
  /** The process to listen on; default `process`. */
  target?: NodeJS.EventEmitter;
}

/** Removes the handlers {@link installProcessErrorHandlers} installed. */
export type UninstallProcessErrorHandlers = () => void;

/**
 * Logs and counts what would otherwise crash the process silently or print a bare stack on
 * stderr:
 *
 * - `uncaughtException`: one `fatal` line with the error and its stack (plus the gRPC call's
 *   method and request id when it happened inside one), `process_unhandled_errors_total{kind="uncaught_exception"}`
 *   is incremented, then the process exits with code 1. Always: after an uncaught exception the
 *   process state is unknown.
 * - `unhandledRejection`: one `error` line likewise, `kind="unhandled_rejection"`, then exit 1
 *   unless `exitOnUnhandledRejection` is false.
 *
 * The logger must write synchronously (the kit's `createLogger` does) so the line is out before
 * the exit. Each error object is logged once even if it is reported twice.
 */
export function installProcessErrorHandlers(
  logger: Logger,
  metrics: { readonly unhandledErrors: Counter<"kind"> },
  options: ProcessErrorHandlerOptions = {},
): UninstallProcessErrorHandlers {
  const target = options.target ?? process;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const exitOnRejection = options.exitOnUnhandledRejection ?? true;
  const seen = new WeakSet<object>();
  const report = (kind: "uncaught_exception" | "unhandled_rejection", error: unknown): boolean => {
    if (typeof error === "object" && error !== null) {
      if (seen.has(error)) return false;
      seen.add(error);
    }
    metrics.unhandledErrors.labels(kind).inc();
    const call = currentContext();
    const fields = {
      err: error instanceof Error ? error : new Error(`Non-error value: ${String(error)}`),
      kind,
      ...(call === undefined ? {} : { method: call.method.path, request_id: call.requestId }),
    };
    if (kind === "uncaught_exception") logger.fatal(fields, "Uncaught exception: exiting");
    else logger.error(fields, exitOnRejection ? "Unhandled promise rejection: exiting" : "Unhandled promise rejection");
    return true;
  };
  const onException = (error: unknown): void => {
    report("uncaught_exception", error);
    exit(1);
  };
  const onRejection = (reason: unknown): void => {
    if (report("unhandled_rejection", reason) && exitOnRejection) exit(1);
  };
  target.on("uncaughtException", onException);
  target.on("unhandledRejection", onRejection);
  return () => {
    target.off("uncaughtException", onException);
    target.off("unhandledRejection", onRejection);
  };
}
