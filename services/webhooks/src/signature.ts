// Signatures of deliveries: HMAC-SHA256, keyed with the subscription's signing secret, over
// "<timestamp>.<body>", sent as `Webhook-Signature: t=<timestamp>,v1=<hex>` (README, "Verifying
// a delivery"). The timestamp lets receivers refuse replays of old deliveries.
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/** The signature header's name. */
export const SIGNATURE_HEADER = "webhook-signature";

/** A new signing secret: "whsec_" and 32 random bytes in base64. */
export function newSigningSecret(): string {
  return `whsec_${randomBytes(32).toString("base64")}`;
}

/** The `Webhook-Signature` value for `body` sent at `timestamp` (seconds). */
export function signatureHeader(secret: string, timestamp: number, body: string): string {
  const mac = createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex");
  return `t=${timestamp},v1=${mac}`;
}

/**
 * Whether `header` is a valid signature of `body` under `secret`, no older than `toleranceSeconds`.
 * What a receiver runs (the README has it as a standalone snippet).
 */
export function verifySignature(
  secret: string,
  header: string,
  body: string,
  toleranceSeconds = 300,
  now = Date.now(),
): boolean {
  const parts = new Map(header.split(",").map((p) => p.split("=", 2) as [string, string]));
  const timestamp = Number(parts.get("t"));
  const given = parts.get("v1") ?? "";
  if (!Number.isInteger(timestamp) || Math.abs(now / 1000 - timestamp) > toleranceSeconds) return false;
  const expected = createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex");
  return given.length === expected.length && timingSafeEqual(Buffer.from(given), Buffer.from(expected));
}
