import type { CallContext, MethodInfo } from "./context.js";

/**
 * One call as interceptors see it, the same shape for all four RPC kinds:
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
 * Runs the rest of the chain and the handler. Resolves with the response message for unary and
 * client-streaming methods, and with `undefined` once the whole response stream has been sent
 * for streaming ones, so `await next(call)` always spans the entire call. Rejects with whatever
 * the handler threw.
 */
export type Next = (call: ServerCall) => Promise<unknown>;

/**
 * A server interceptor: a plain function from the next step to a new step,
 * `(next) => async (call) => { ...; return next(call); }`.
 */
export type ServerInterceptor = (next: Next) => Next;

/**
 * Runs `next(call)` and returns its promise, with a synchronous throw turned into a rejection.
 * For interceptors that attach one `then` to the rest of the chain instead of an `async` frame
 * (a frame costs a promise and a resumption per call, each seen by async hooks on Node 20).
 */
export function callNext(next: Next, call: ServerCall): Promise<unknown> {
  try {
    return next(call);
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * Composes interceptors around a handler. The first interceptor in the array is the outermost:
 * it sees the call first and the result (or error) last.
 */
export function composeInterceptors(interceptors: readonly ServerInterceptor[], handler: Next): Next {
  let next = handler;
  for (let i = interceptors.length - 1; i >= 0; i--) {
    const interceptor = interceptors[i];
    if (interceptor) next = interceptor(next);
  }
  return next;
}
