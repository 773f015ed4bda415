import { AsyncLocalStorage } from "node:async_hooks";
import type { Logger } from "pino";
import type { CallContext } from "../context.js";

/**
 * The call context of the server call being handled on the current async path: the server's
 * method adapter runs every call's interceptors and handler in it, and `currentContext()` reads
 * it. One store, entered once per call, whatever interceptors run.
 */
export const callStorage = new AsyncLocalStorage<CallContext>();

// The per-call child loggers behind CallContext.log, so a pino mixin can tell them from other
// loggers without reading `context.log` (which would create one for every call).
const callLoggers = new WeakSet<object>();

/** Marks `logger` as a call's own `context.log` (which binds `method` and `request_id`). */
export function markCallLogger(logger: Logger): void {
  callLoggers.add(logger);
}

/** True when `logger` is some call's `context.log`. */
export function isCallLogger(logger: unknown): boolean {
  return typeof logger === "object" && logger !== null && callLoggers.has(logger);
}
