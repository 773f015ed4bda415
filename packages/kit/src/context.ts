import { AsyncLocalStorage } from "node:async_hooks";
import type {
  Metadata,
  ServerDuplexStream,
  ServerReadableStream,
  ServerUnaryCall,
  ServerWritableStream,
} from "@grpc/grpc-js";
import type { Logger } from "pino";
import type { GrpcError } from "./errors.js";

/** Any grpc-js server call object. */
export type RawServerCall =
  | ServerUnaryCall<unknown, unknown>
  | ServerReadableStream<unknown, unknown>
  | ServerWritableStream<unknown, unknown>
  | ServerDuplexStream<unknown, unknown>;

/** The four gRPC method kinds. */
export type MethodKind = "unary" | "server_stream" | "client_stream" | "bidi_stream";

/** What an interceptor knows about the method being called. */
export interface MethodInfo {
  /** Full path, e.g. `/bookstore.recommendations.v1.RecommendationsService/Recommend`. */
  readonly path: string;
  /** Fully qualified service name, e.g. `bookstore.recommendations.v1.RecommendationsService`. */
  readonly service: string;
  /** Method name as in the proto, e.g. `Recommend`. */
  readonly name: string;
  readonly kind: MethodKind;
  readonly requestStream: boolean;
  readonly responseStream: boolean;
}

/** A typed key for per-call values (auth identity, trace, ...). Create with {@link createContextKey}. */
export interface ContextKey<T> {
  readonly id: symbol;
  readonly defaultValue: T;
}

/** Creates a typed key for {@link CallContext.get} / {@link CallContext.set}. */
export function createContextKey<T>(defaultValue: T, description = "context value"): ContextKey<T> {
  return { id: Symbol(description), defaultValue };
}

/**
 * Everything a handler or interceptor may need about the current call. Per-call data lives
 * here (or in values set through typed keys), never in globals.
 */
export interface CallContext {
  readonly method: MethodInfo;
  /** Request headers sent by the caller. */
  readonly metadata: Metadata;
  /** The caller's address as grpc-js reports it, e.g. `127.0.0.1:53422`. */
  readonly peer: string;
  /** The caller's `x-request-id` when it sent a valid one, otherwise a new UUID. */
  readonly requestId: string;
  /** Absolute deadline in ms since the epoch; `Infinity` when the caller set none. */
  readonly deadline: number;
  /**
   * Aborted when the caller cancels, the deadline passes, or the server drains past its grace
   * period. Created on first read: code that only needs to know whether the call ended early
   * should read {@link CallContext.abortReason} instead, which costs nothing.
   */
  readonly signal: AbortSignal;
  /**
   * Why the call was ended early: `Cancelled` (the caller cancelled), `DeadlineExceeded` or
   * `Unavailable` (the server drained past its grace period); `undefined` while it was not.
   * The same value as `signal.reason` once the signal is aborted, without creating the signal.
   */
  readonly abortReason: GrpcError | undefined;
  /** A pino logger bound to the method and request id (created on first read). */
  readonly log: Logger;
  /** Headers to send with the response; interceptors and handlers may add to them before the first message. */
  readonly responseHeaders: Metadata;
  /** Trailers to send with the status. */
  readonly responseTrailers: Metadata;
  /** The underlying grpc-js call: an escape hatch, and the parent for deadline/cancel propagation. */
  readonly raw: RawServerCall;
  get<T>(key: ContextKey<T>): T;
  set<T>(key: ContextKey<T>, value: T): void;
}

const storage = new AsyncLocalStorage<CallContext>();

// Interceptors that run the rest of the chain in an async context of their own which also holds
// the call's CallContext (the server tracing interceptor: OpenTelemetry's context), and how to
// read it back from there. When such an interceptor is the outermost, the server adapter does
// not enter the kit's own AsyncLocalStorage at all: one AsyncLocalStorage instead of two means
// one `run` fewer per call and half the async-hook work on every promise, tick and I/O callback.
const carriers = new WeakSet<object>();
let carriedLookup: (() => CallContext | undefined) | undefined;

/**
 * Declares that `interceptor` runs the rest of the chain in an async context from which
 * `lookup` returns the call's {@link CallContext} (or, where it cannot make one current, runs it
 * through {@link runWithContext} itself). For the kit's server tracing interceptor.
 */
export function markContextCarrier(interceptor: object, lookup: () => CallContext | undefined): void {
  carriers.add(interceptor);
  carriedLookup = lookup;
}

/** True when `interceptor` carries the call context itself (see {@link markContextCarrier}). */
export function carriesContext(interceptor: object | undefined): boolean {
  return interceptor !== undefined && carriers.has(interceptor);
}

/** The context of the call being handled on this async path, if any (used for deadline and request-id propagation). */
export function currentContext(): CallContext | undefined {
  return storage.getStore() ?? carriedLookup?.();
}

/**
 * Runs `fn(...args)` with `context` as the current call context. Used by the server adapter;
 * passing arguments instead of a closure spares an allocation per call.
 */
export function runWithContext<T, A extends unknown[] = []>(
  context: CallContext,
  fn: (...args: A) => T,
  ...args: A
): T {
  return storage.run(context, fn, ...args);
}

// The per-call child loggers behind CallContext.log, so a pino mixin can tell them from other
// loggers without reading `context.log` (which would create one for every call).
const callLoggers = new WeakSet<object>();

/** Marks `logger` as a call's own `context.log`. Used by the server adapter. */
export function markCallLogger(logger: Logger): void {
  callLoggers.add(logger);
}

/**
 * True when `logger` is some call's `context.log` (which already binds `method` and
 * `request_id`). For pino mixins: compare with this rather than with `currentContext().log`,
 * which would build a child logger on every line.
 */
export function isCallLogger(logger: unknown): boolean {
  return typeof logger === "object" && logger !== null && callLoggers.has(logger);
}

/** Milliseconds left before `context`'s deadline (`Infinity` when none); never negative. */
export function remainingMs(context: Pick<CallContext, "deadline">, now: number = Date.now()): number {
  return Math.max(0, context.deadline - now);
}
