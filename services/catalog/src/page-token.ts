// Page tokens as Google's AIP-158 describes them: opaque to clients (base64url of a small JSON
// document), bound to the request that produced them (a token from one filter or ordering is
// refused with another), and checked field by field before use (anything else is
// INVALID_ARGUMENT "Invalid page token").
import { createHash } from "node:crypto";
import { invalidPageToken } from "./errors.js";

/** Longest token accepted; ours are well under it. */
const MAX_TOKEN_LENGTH = 1000;

/** The token for `payload`. */
export function encodePageToken(payload: Readonly<Record<string, string | number>>): string {
  return Buffer.from(JSON.stringify(payload)).toString("base64url");
}

/**
 * The payload of `token`, which must have exactly the keys of `shape` with values of their
 * types, and the `bound` values (what the request asked for) unchanged; undefined for "".
 */
export function decodePageToken<T extends Record<string, string | number>>(
  token: string,
  shape: { readonly [K in keyof T]: "string" | "number" },
  bound: Partial<T>,
): T | undefined {
  if (token === "") return undefined;
  if (token.length > MAX_TOKEN_LENGTH || !/^[A-Za-z0-9_-]+$/.test(token)) throw invalidPageToken();
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
  } catch {
    throw invalidPageToken();
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw invalidPageToken();
  const record = value as Record<string, unknown>;
  const keys = Object.keys(shape);
  if (Object.keys(record).length !== keys.length) throw invalidPageToken();
  for (const key of keys) {
    const type = shape[key as keyof T];
    const field = record[key];
    if (typeof field !== type || (type === "number" && !Number.isFinite(field))) throw invalidPageToken();
  }
  for (const [key, expected] of Object.entries(bound)) if (record[key] !== expected) throw invalidPageToken();
  return record as T;
}

/** A short digest naming a request's filter inside a token without repeating it. */
export function digest(...parts: readonly string[]): string {
  return createHash("sha256").update(JSON.stringify(parts)).digest("base64url").slice(0, 16);
}
