// Stored rows in the API's shapes.
import { accountsV1, type clientsV1 } from "@obfy/protos";
import type { AccountRow } from "./db/accounts.js";
import type { ClientRow } from "./db/clients.js";
import type { AccountRole } from "./db/schema.js";
import type { SessionRow } from "./db/sessions.js";

export function timestamp(date: Date): { seconds: number; nanos: number } {
  const ms = date.getTime();
  const seconds = Math.floor(ms / 1000);
  return { seconds, nanos: Math.round((ms - seconds * 1000) * 1e6) };
}

const ROLES: Record<AccountRole, accountsV1.Role> = {
  shopper: accountsV1.Role.ROLE_SHOPPER,
  admin: accountsV1.Role.ROLE_ADMIN,
};

export function accountOf(row: AccountRow): accountsV1.Account {
  return { accountId: row.id, email: row.email, role: ROLES[row.role], createTime: timestamp(row.created_at) };
}

export function sessionOf(row: SessionRow): accountsV1.Session {
  return {
    sessionId: row.id,
    createTime: timestamp(row.created_at),
    lastUseTime: timestamp(row.last_used_at),
    expireTime: timestamp(row.expires_at),
    userAgent: row.user_agent,
  };
}

export function clientOf(row: ClientRow): clientsV1.Client {
  return {
    clientId: row.id,
    displayName: row.display_name,
    allowedScopes: [...row.allowed_scopes],
    createTime: timestamp(row.created_at),
    revokeTime: row.revoked_at === null ? undefined : timestamp(row.revoked_at),
    createdBy: row.created_by,
  };
}

/** A page token: the position after the page, bound to the query it pages (another query's token is refused). */
export function encodePageToken(token: Record<string, string>): string {
  return Buffer.from(JSON.stringify(token)).toString("base64url");
}

/** The token's fields when it was made for `query`; undefined when it is not a token of ours. */
export function decodePageToken(value: string, query: Record<string, string>): Record<string, string> | undefined {
  try {
    const token = JSON.parse(Buffer.from(value, "base64url").toString("utf8")) as unknown;
    if (typeof token !== "object" || token === null || Array.isArray(token)) return undefined;
    const fields = token as Record<string, unknown>;
    if (!Object.values(fields).every((v) => typeof v === "string")) return undefined;
    if (!Object.entries(query).every(([k, v]) => fields[k] === v)) return undefined;
    return fields as Record<string, string>;
  } catch {
    return undefined;
  }
}
