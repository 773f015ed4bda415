// Opaque secrets (session tokens, client secrets): 256 random bits, stored only as SHA-256.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

/** 256 random bits, URL-safe base64 (43 characters). */
export function newSecret(): string {
  return randomBytes(32).toString("base64url");
}

/** What is stored of a secret. A fast hash is enough for 256 random bits: there is nothing to guess. */
export function hashSecret(secret: string): Buffer {
  return createHash("sha256").update(secret, "utf8").digest();
}

/** Compares a secret with a stored hash in constant time. */
export function secretMatches(secret: string, stored: Buffer): boolean {
  const hashed = hashSecret(secret);
  return stored.length === hashed.length && timingSafeEqual(hashed, stored);
}

/** A client id: "cli_" and 22 URL-safe characters (128 random bits). */
export function newClientId(): string {
  return `cli_${randomBytes(16).toString("base64url")}`;
}
