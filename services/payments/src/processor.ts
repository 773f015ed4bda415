// The simulated card processor. It answers as real providers' test modes do, from the
// behaviour recorded with the payment method: approve, decline, fail, or never answer. The
// caller's timeout is what turns "never answers" into a "timeout" refusal, as it would be with
// a real provider that hangs.
import type { CardBehaviour } from "./db/schema.js";

/** A refusal's code, as Payment.failure_code and PaymentRefused.failure_code name them. */
export type FailureCode = "card_declined" | "insufficient_funds" | "processing_error" | "timeout";

/** The processor's answer to an authorization. */
export type AuthorizationAnswer =
  | { readonly outcome: "approved" }
  | { readonly outcome: "declined" | "failed"; readonly code: FailureCode; readonly message: string };

/** Words for the shopper, per failure code (shown on the order page). */
export const FAILURE_MESSAGES: Readonly<Record<FailureCode, string>> = Object.freeze({
  card_declined: "Your card was declined",
  insufficient_funds: "Your card has insufficient funds",
  processing_error: "The payment could not be processed; nothing was charged",
  timeout: "The payment processor did not answer in time; nothing was charged",
});

/** Options for {@link createSimulatedProcessor}. */
export interface SimulatedProcessorOptions {
  /** `PAYMENTS_PROCESSOR_TIMEOUT_MS`: how long an authorization may take before it counts as a timeout. */
  readonly timeoutMs: number;
  /** `PAYMENTS_PROCESSOR_LATENCY_MS`: how long the processor takes to answer (0 by default). */
  readonly latencyMs: number;
}

/** The simulated processor. */
export interface Processor {
  /** Asks for a hold on the card; resolves with the answer, or "timeout" after `timeoutMs`. */
  authorize(behaviour: CardBehaviour, signal?: AbortSignal): Promise<AuthorizationAnswer>;
}

/** The longest timer Node keeps (about 24.8 days): "never", for the timeout card. */
const NEVER_MS = 2 ** 31 - 1;

function refusal(outcome: "declined" | "failed", code: FailureCode): AuthorizationAnswer {
  return { outcome, code, message: FAILURE_MESSAGES[code] };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}

/** Creates the simulated processor. */
export function createSimulatedProcessor(options: SimulatedProcessorOptions): Processor {
  /** The processor's side: it answers after its latency, or (the timeout card) never. */
  async function answer(behaviour: CardBehaviour, signal: AbortSignal): Promise<AuthorizationAnswer | undefined> {
    const delay = behaviour === "timeout" ? NEVER_MS : options.latencyMs;
    if (delay > 0) await sleep(delay, signal);
    if (signal.aborted) return undefined;
    switch (behaviour) {
      case "succeed":
        return { outcome: "approved" };
      case "decline":
        return refusal("declined", "card_declined");
      case "insufficient_funds":
        return refusal("declined", "insufficient_funds");
      case "processing_error":
        return refusal("failed", "processing_error");
      case "timeout":
        return undefined;
    }
  }

  return {
    async authorize(behaviour, signal) {
      const call = new AbortController();
      const abort = () => call.abort();
      signal?.addEventListener("abort", abort, { once: true });
      const timeout = setTimeout(abort, options.timeoutMs);
      try {
        return (await answer(behaviour, call.signal)) ?? refusal("failed", "timeout");
      } finally {
        clearTimeout(timeout);
        signal?.removeEventListener("abort", abort);
      }
    },
  };
}
