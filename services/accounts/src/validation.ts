// Checks of every request field, as the protos document them. A field's problem is
// INVALID_ARGUMENT with a google.rpc.BadRequest naming it (errors.ts).
import { isIP } from "node:net";
import { CLIENT_SCOPES } from "@obfy/kit/security";
import dumbPasswords from "dumb-passwords";
import { invalidField, invalidPassword } from "./errors.js";

export const MAX_EMAIL_LENGTH = 254;
export const MAX_LOCAL_PART_LENGTH = 64;
export const MIN_PASSWORD_LENGTH = 10;
export const MAX_PASSWORD_LENGTH = 128;
export const MAX_USER_AGENT_LENGTH = 300;
export const MAX_DISPLAY_NAME_LENGTH = 100;
export const MAX_PAGE_SIZE = 100;
export const DEFAULT_PAGE_SIZE = 50;
/** Longest session token or client secret accepted (they are 43 characters). */
export const MAX_SECRET_LENGTH = 200;

// C0 and C1 control characters (NUL included).
// biome-ignore lint/suspicious/noControlCharactersInRegex: that is the point.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/u;

const length = (value: string): number => [...value].length;

/**
 * An email as Accounts stores and compares it: trimmed, lower case (the domain too), Unicode
 * NFC. Two spellings of one address normalise to the same string.
 */
export function normalizeEmail(value: string): string {
  return value.trim().toLowerCase().normalize("NFC");
}

// The local part: no spaces, controls or the specials of RFC 5322 (quoted local parts are not
// accepted); dots only between other characters.
const LOCAL_PART = /^[^\s"(),:;<>@[\\\]]+$/u;
// A domain label: letters (any script), digits and inner hyphens, 1 to 63 characters.
const LABEL = /^[\p{L}\p{N}](?:[\p{L}\p{N}-]{0,61}[\p{L}\p{N}])?$/u;

/** Why `email` (normalised) is not an address Accounts accepts, or undefined when it is one. */
export function emailProblem(email: string): string | undefined {
  if (email === "") return "email is required";
  if (length(email) > MAX_EMAIL_LENGTH) return `email must be at most ${MAX_EMAIL_LENGTH} characters`;
  const at = email.lastIndexOf("@");
  const local = email.slice(0, at);
  const domain = email.slice(at + 1);
  const labels = domain.split(".");
  const valid =
    at > 0 &&
    !CONTROL.test(email) &&
    length(local) <= MAX_LOCAL_PART_LENGTH &&
    LOCAL_PART.test(local) &&
    !local.startsWith(".") &&
    !local.endsWith(".") &&
    !local.includes("..") &&
    labels.length >= 2 &&
    labels.every((label) => LABEL.test(label)) &&
    /\p{L}/u.test(labels.at(-1) ?? "");
  return valid ? undefined : "email must be a valid email address";
}

/** The normalised email of a request, or INVALID_ARGUMENT on `field`. */
export function checkEmail(field: string, value: string): string {
  const email = normalizeEmail(value);
  const problem = emailProblem(email);
  if (problem !== undefined) throw invalidField(field, problem.replace(/^email/, field));
  return email;
}

/** A password as it is hashed and compared: Unicode NFC, so two spellings of it are one. */
export function normalizePassword(value: string): string {
  return value.normalize("NFC");
}

/**
 * The password rules (README, "Passwords"), each broken rule's message: 10 to 128 characters,
 * not only spaces, not the account's email, not one of the 10,000 most common passwords.
 */
export function passwordProblems(password: string, email: string): string[] {
  const normalized = normalizePassword(password);
  if (normalized === "") return ["Password is required"];
  const problems: string[] = [];
  const count = length(normalized);
  if (count < MIN_PASSWORD_LENGTH) problems.push(`Password must be at least ${MIN_PASSWORD_LENGTH} characters`);
  if (count > MAX_PASSWORD_LENGTH) problems.push(`Password must be at most ${MAX_PASSWORD_LENGTH} characters`);
  if (/^\s+$/u.test(normalized)) problems.push("Password must not be only spaces");
  if (normalizeEmail(normalized) === email) problems.push("Password must not be your email address");
  // Checked only within the length limits: the list is searched in full on every call (about 4 ms).
  if (problems.length === 0 && dumbPasswords.check(normalized)) {
    problems.push("Password is one of the 10,000 most common passwords; choose another");
  }
  return problems;
}

/** The password of a sign-up or a password change, normalised, or INVALID_ARGUMENT on `field`. */
export function checkNewPassword(field: string, password: string, email: string): string {
  const [first, ...rest] = passwordProblems(password, email);
  if (first !== undefined) throw invalidPassword(field, [first, ...rest]);
  return normalizePassword(password);
}

/** ClientInfo: the address must be an IP address when given; the user agent is cut to 300 characters. */
export function checkClientInfo(client: { ipAddress: string; userAgent: string } | undefined): {
  ipAddress: string;
  userAgent: string;
} {
  const ipAddress = (client?.ipAddress ?? "").trim();
  if (ipAddress !== "" && isIP(ipAddress) === 0) {
    throw invalidField("client.ip_address", "client.ip_address must be an IP address");
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are dropped from what is shown.
  const userAgent = [...(client?.userAgent ?? "").replace(/[\u0000-\u001f\u007f-\u009f]/gu, "")]
    .slice(0, MAX_USER_AGENT_LENGTH)
    .join("");
  return { ipAddress, userAgent };
}

/** A required opaque secret (session token, client secret): present and of a sane size. */
export function checkSecret(field: string, value: string): string {
  if (value === "") throw invalidField(field, `${field} is required`);
  if (value.length > MAX_SECRET_LENGTH)
    throw invalidField(field, `${field} must be at most ${MAX_SECRET_LENGTH} characters`);
  return value;
}

/** A required identifier (account id, session id, client id): present, at most 100 characters. */
export function checkId(field: string, value: string): string {
  if (value === "") throw invalidField(field, `${field} is required`);
  if (length(value) > 100) throw invalidField(field, `${field} must be at most 100 characters`);
  return value;
}

/** A client's display name: 1 to 100 characters once trimmed, no control characters. */
export function checkDisplayName(field: string, value: string): string {
  const name = value.trim().normalize("NFC");
  if (name === "") throw invalidField(field, `${field} is required`);
  if (length(name) > MAX_DISPLAY_NAME_LENGTH) {
    throw invalidField(field, `${field} must be at most ${MAX_DISPLAY_NAME_LENGTH} characters`);
  }
  if (CONTROL.test(name)) throw invalidField(field, `${field} must not contain control characters`);
  return name;
}

/** Scopes a client may be granted: at least one, each known; duplicates are kept once. */
export function checkClientScopes(field: string, scopes: readonly string[]): string[] {
  if (scopes.length === 0) throw invalidField(field, `${field} must hold at least one scope`);
  const unknown = scopes.filter((scope) => !CLIENT_SCOPES.includes(scope));
  if (unknown.length > 0) {
    const shown = [...new Set(unknown)].map((scope) => JSON.stringify([...scope].slice(0, 50).join("")));
    throw invalidField(
      field,
      `Unknown ${shown.length === 1 ? "scope" : "scopes"}: ${shown.join(", ")} (known: ${CLIENT_SCOPES.join(", ")})`,
    );
  }
  return [...new Set(scopes)];
}

/** A page size: 1 to 100; 0 means 50. */
export function checkPageSize(value: number): number {
  if (value === 0) return DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(value) || value < 1 || value > MAX_PAGE_SIZE) {
    throw invalidField("page_size", `page_size must be between 0 and ${MAX_PAGE_SIZE}`);
  }
  return value;
}

/** True for a UUID as account and session ids are written. */
export function isUuid(value: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);
}
