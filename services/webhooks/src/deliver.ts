// One attempt of one delivery: check the target, POST the signed body to the checked address,
// read the status. Redirects are answers, not instructions: a 3xx is a failed attempt.
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import type { LookupFunction } from "node:net";
import type { DeliveryRow, SubscriptionRow } from "./db/queries.js";
import { SIGNATURE_HEADER, signatureHeader } from "./signature.js";
import { checkTarget, TargetRefused } from "./target-guard.js";

/** How an attempt went. */
export interface AttemptOutcome {
  readonly ok: boolean;
  /** The response's status code; 0 without a response. */
  readonly statusCode: number;
  /** In words, for the delivery log; "" on success. */
  readonly error: string;
  /** The target is refused: no later attempt can succeed. */
  readonly final: boolean;
}

/** Names of the headers every delivery carries (README, "Deliveries"). */
export const DELIVERY_HEADERS = {
  id: "webhook-id",
  timestamp: "webhook-timestamp",
  event: "webhook-event",
  signature: SIGNATURE_HEADER,
} as const;

function describeError(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  if (code === "ECONNREFUSED") return "connection refused";
  if (code === "ECONNRESET") return "connection reset";
  if (code === "ETIMEDOUT" || code === "ABORT_ERR") return "timed out";
  if (typeof code === "string" && code.startsWith("ERR_TLS")) return "TLS error";
  if (typeof code === "string" && code.includes("CERT")) return "TLS certificate not valid";
  return "request failed";
}

/** Makes one attempt; never throws. */
export async function attemptDelivery(
  delivery: DeliveryRow,
  subscription: SubscriptionRow,
  options: { readonly allowedHosts: ReadonlySet<string>; readonly timeoutMs: number },
): Promise<AttemptOutcome> {
  let target: Awaited<ReturnType<typeof checkTarget>>;
  try {
    target = await checkTarget(subscription.url, options.allowedHosts);
  } catch (error) {
    if (error instanceof TargetRefused) {
      return {
        ok: false,
        statusCode: 0,
        error: error.reason === "address" ? "address not allowed" : error.message,
        final: true,
      };
    }
    return { ok: false, statusCode: 0, error: "request failed", final: false };
  }
  const timestamp = Math.floor(Date.now() / 1000);
  const body = delivery.payload;
  // The connection goes to the address that was checked, whatever a second lookup would say.
  const pinned: LookupFunction = (_host, lookupOptions, callback) => {
    if ((lookupOptions as { all?: boolean }).all === true) {
      (callback as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [
        { address: target.address, family: target.family },
      ]);
    } else callback(null, target.address, target.family);
  };
  const send = target.url.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise<AttemptOutcome>((resolve) => {
    const request = send(
      target.url,
      {
        method: "POST",
        lookup: pinned,
        timeout: options.timeoutMs,
        signal: AbortSignal.timeout(options.timeoutMs),
        headers: {
          "content-type": "application/json",
          "user-agent": "obfy-webhooks/1",
          [DELIVERY_HEADERS.id]: delivery.event_id,
          [DELIVERY_HEADERS.timestamp]: String(timestamp),
          [DELIVERY_HEADERS.event]: delivery.event,
          [DELIVERY_HEADERS.signature]: signatureHeader(subscription.signing_secret, timestamp, body),
        },
      },
      (response) => {
        const statusCode = response.statusCode ?? 0;
        // Drain (bounded) so the socket is released; the body is not used.
        let read = 0;
        response.on("data", (chunk: Buffer) => {
          read += chunk.length;
          if (read > 64 * 1024) response.destroy();
        });
        const done = () => {
          if (statusCode >= 200 && statusCode < 300) resolve({ ok: true, statusCode, error: "", final: false });
          else if (statusCode >= 300 && statusCode < 400) {
            resolve({ ok: false, statusCode, error: `redirect not followed (HTTP ${statusCode})`, final: false });
          } else resolve({ ok: false, statusCode, error: `HTTP ${statusCode}`, final: false });
        };
        response.on("end", done);
        response.on("close", done);
        response.on("error", done);
      },
    );
    request.on("timeout", () => request.destroy(Object.assign(new Error("timed out"), { code: "ETIMEDOUT" })));
    request.on("error", (error) => resolve({ ok: false, statusCode: 0, error: describeError(error), final: false }));
    request.end(body);
  });
}
