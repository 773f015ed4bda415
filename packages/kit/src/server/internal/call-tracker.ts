import type { GrpcError } from "../../errors.js";

/** A call the server is running, as the tracker sees it. */
export interface TrackedCall {
  /** Ends the call now with `error` as its status and aborts its signal. */
  terminate(error: GrpcError): void;
}

/**
 * Counts in-flight calls so a graceful shutdown can wait for them, and ends the stragglers when
 * the grace period is over.
 */
export class CallTracker {
  readonly #calls = new Set<TrackedCall>();
  #idleWaiters: Array<() => void> = [];

  /** Number of calls started and not yet finished. */
  get size(): number {
    return this.#calls.size;
  }

  add(call: TrackedCall): void {
    this.#calls.add(call);
  }

  delete(call: TrackedCall): void {
    if (!this.#calls.delete(call) || this.#calls.size > 0) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  /** Resolves once no call is in flight. */
  idle(): Promise<void> {
    if (this.#calls.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Ends every in-flight call with `error`. */
  terminateAll(error: GrpcError): void {
    for (const call of [...this.#calls]) call.terminate(error);
  }
}
