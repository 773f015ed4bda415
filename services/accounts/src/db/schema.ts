import type { ColumnType, Generated } from "@obfy/kit/db";

/** An account's role as stored. */
export type AccountRole = "shopper" | "admin";

/** What a sign-in throttle row counts failures for. */
export type ThrottleKind = "account" | "address";

/** The Accounts' tables. */
export interface AccountsSchema {
  accounts: {
    id: string;
    /** Normalised (trimmed, lower case, NFC); unique. */
    email: string;
    /** The argon2id PHC string. */
    password_hash: string;
    role: AccountRole;
    created_at: ColumnType<Date, never, never>;
    password_changed_at: ColumnType<Date, Date | undefined, Date>;
  };
  sessions: {
    id: string;
    account_id: string;
    /** SHA-256 of the session token; the token itself is never stored. */
    token_hash: Buffer;
    user_agent: string;
    ip_address: string;
    created_at: ColumnType<Date, never, never>;
    last_used_at: ColumnType<Date, Date | undefined, Date>;
    /** last_used_at + the idle lifetime, moved on at every use. */
    expires_at: Date;
    revoked_at: Date | null;
  };
  sign_in_throttle: {
    kind: ThrottleKind;
    /** The normalised email (account) or the address (an IPv4 address, an IPv6 /64). */
    key: string;
    failures: number;
    last_failure_at: Date;
    locked_until: Date | null;
  };
  signing_keys: {
    kid: string;
    /** The private key as a JWK (ES256). */
    private_jwk: ColumnType<PrivateJwk, string, string>;
    public_jwk: ColumnType<PublicJwk, string, string>;
    created_at: ColumnType<Date, never, never>;
    /** Published from creation, signs from here on. */
    activate_at: Date;
    /** Unpublished (and never signs again) from here on; null while in use. */
    retire_at: Date | null;
  };
  clients: {
    id: string;
    display_name: string;
    allowed_scopes: string[];
    /** SHA-256 of the secret (256 random bits: a slow hash adds nothing). */
    secret_hash: Buffer;
    created_by: string;
    created_at: ColumnType<Date, never, never>;
    revoked_at: Date | null;
    /** Serial for keyset pages (newest first). */
    seq: Generated<string>;
  };
}

/** An EC private key as jose exports it. */
export interface PrivateJwk {
  readonly kty?: string;
  readonly crv?: string;
  readonly x?: string;
  readonly y?: string;
  readonly d?: string;
  readonly [name: string]: unknown;
}

/** The public half, as the JWKS serves it. */
export interface PublicJwk {
  readonly kty?: string;
  readonly crv?: string;
  readonly x?: string;
  readonly y?: string;
  readonly kid?: string;
  readonly alg?: string;
  readonly use?: string;
  readonly [name: string]: unknown;
}
