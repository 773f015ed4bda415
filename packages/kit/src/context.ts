import type {
  Metadata,
  ServerDuplexStream,
  ServerReadableStream,
  ServerUnaryCall,
  ServerWritableStream,
} from "@grpc/grpc-js";
import type { Logger } from "pino";
import type { GrpcError } from "./errors.js";
import { callStorage } from "./internal/call-storage.js";

/** The header that carries a call's request id, in both directions. */
export const REQUEST_ID_HEADER = "x-request-id";

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

/**
 * The context of the server call being handled on this async path, if any: what a client call
 * made from a handler reads to propagate the deadline, cancellation and request id. The server
 * runs each call's interceptors and handler inside that call's own context.
 */
export function currentContext(): CallContext | undefined {
  return callStorage.getStore();
}
