import type { Metadata } from "@grpc/grpc-js";
import type { CallContext, MethodInfo } from "./context.js";

/**
 * One server call as interceptors see it, the same shape for all four RPC kinds:
 * - unary and server-streaming methods carry `request`;
 * - client-streaming and bidi methods carry `requests`;
 * - server-streaming and bidi methods send responses through `send`.
 *
 * An interceptor may pass a changed copy to `next`, e.g. `next({ ...call, send: wrapped })`.
 */
export interface ServerCall {
  readonly method: MethodInfo;
  readonly context: CallContext;
  /** The request message (unary and server-streaming); `undefined` otherwise. */
  readonly request: unknown;
  /** The request stream (client-streaming and bidi); `undefined` otherwise. */
  readonly requests: AsyncIterable<unknown> | undefined;
  /**
   * Sends one response message (server-streaming and bidi); `undefined` otherwise. Resolves
   * when the transport can take more, so awaiting it applies backpressure.
   */
  readonly send: ((message: unknown) => Promise<void>) | undefined;
}

/**
 * One client call as interceptors see it, the mirror of {@link ServerCall}:
 * - unary and server-streaming methods carry `request`, the others `requests`;
 * - server-streaming and bidi methods deliver responses through `receive`.
 */
export interface ClientCall {
  readonly method: MethodInfo;
  /** The channel target, e.g. `dns:///recommendations:50051`. */
  readonly target: string;
  /** The request message (unary and server-streaming); `undefined` otherwise. */
  readonly request: unknown;
  /** The request stream (client-streaming and bidi); `undefined` otherwise. */
  readonly requests: AsyncIterable<unknown> | undefined;
  /**
   * Hands one response message to the caller (server-streaming and bidi); `undefined` otherwise.
   * Resolves when the caller asks for the next one, so awaiting it applies backpressure.
   */
  readonly receive: ((message: unknown) => Promise<void>) | undefined;
  /** Request headers, this call's own copy: interceptors may add to them. */
  readonly metadata: Metadata;
  /** Absolute deadline in ms since the epoch; `Infinity` for none. */
  readonly deadline: number;
  /** Aborting it cancels the call; `undefined` when nothing can. */
  readonly signal: AbortSignal | undefined;
  /** The server call being handled when this call was made, if any: the parent to propagate from. */
  readonly parent: CallContext | undefined;
}

/**
 * Runs the rest of a chain. Resolves with the response message for unary and client-streaming
 * methods, and with `undefined` once the whole response stream has gone through for streaming
 * ones, so `await next(call)` always spans the entire call. Rejects with what the call failed with.
 */
export type Next<C> = (call: C) => Promise<unknown>;

/** An interceptor: a function from the next step to a new step, `(next) => async (call) => next(call)`. */
export type Interceptor<C> = (next: Next<C>) => Next<C>;

/** A server interceptor (see {@link ServerCall}). */
export type ServerInterceptor = Interceptor<ServerCall>;

/** A client interceptor (see {@link ClientCall}); the same shape as a server interceptor. */
export type ClientInterceptor = Interceptor<ClientCall>;
