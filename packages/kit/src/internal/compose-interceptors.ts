import type { Interceptor, Next } from "../interceptor.js";

/**
 * Composes interceptors around the innermost step. The first interceptor in the array is the
 * outermost: it sees the call first and the result (or error) last.
 */
export function composeInterceptors<C>(interceptors: readonly Interceptor<C>[], innermost: Next<C>): Next<C> {
  return interceptors.reduceRight<Next<C>>((next, interceptor) => interceptor(next), innermost);
}
