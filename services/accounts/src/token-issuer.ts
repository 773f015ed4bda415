// The store's access tokens: ES256 JWTs signed with a key kept in the database (so every replica
// signs with the same keys and serves the same JWKS), rotated by age with an overlap.

import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Database } from "@obfy/kit/db";
import { SHOPPER_SCOPES } from "@obfy/kit/security";
import {
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  importJWK,
  type JSONWebKeySet,
  type JWK,
  SignJWT,
} from "jose";
import { JWKS_PATH, type SigningKeyPolicy } from "./config.js";
import type { AccountRole, AccountsSchema } from "./db/schema.js";
import {
  databaseNow,
  deleteRetiredKeys,
  findLiveKeys,
  insertKey,
  lockKeys,
  type SigningKeyRow,
  scheduleRetirement,
} from "./db/signing-keys.js";

/** An issued token and when it expires. */
export interface IssuedToken {
  readonly token: string;
  readonly expiresAt: Date;
}

/** Signs the store's tokens and publishes their keys. */
export interface TokenIssuer {
  /** A token for an account: `sub` its id, `role`, `email`, the shopper scopes and `sid` (the session). */
  issueAccountToken(account: {
    readonly accountId: string;
    readonly email: string;
    readonly role: AccountRole;
    readonly sessionId: string;
  }): Promise<IssuedToken>;
  /** A client-credentials token: `sub` the client id, role `client`, the granted scopes. */
  issueClientToken(client: { readonly clientId: string; readonly scopes: readonly string[] }): Promise<IssuedToken>;
  /** The public keys, as `/.well-known/jwks.json` serves them. */
  jwks(): Promise<JSONWebKeySet>;
  /** Serves {@link TokenIssuer.jwks} at `/.well-known/jwks.json` on the admin port. */
  handleAdminRequest(request: IncomingMessage, response: ServerResponse): Promise<boolean>;
  /**
   * Creates the first key, or a successor when the newest is older than the rotation age (or
   * at once with `force`): published now, signing after `publishSeconds`, while the keys it
   * replaces keep verifying until every token they signed has expired. Safe on every replica.
   * Returns the kid of a key it created.
   */
  rotate(options?: { readonly force?: boolean }): Promise<string | undefined>;
  /** Forgets the cached keys (the next token or JWKS reads them again). */
  reload(): void;
  /** Deletes keys retired more than a day ago. */
  deleteOldKeys(): Promise<number>;
}

/** Options for {@link createTokenIssuer}. */
export interface TokenIssuerOptions {
  readonly database: Database<AccountsSchema>;
  readonly issuer: string;
  readonly audience: string;
  readonly ttlSeconds: number;
  readonly policy: SigningKeyPolicy;
}

export const ALGORITHM = "ES256";

interface LoadedKey {
  readonly row: SigningKeyRow;
  readonly privateKey: CryptoKey | Uint8Array;
}

/** Creates the {@link TokenIssuer}. */
export function createTokenIssuer(options: TokenIssuerOptions): TokenIssuer {
  const db = options.database.kysely;
  // A rotation by another replica is seen within this; the publication delay is much longer.
  const cacheMs = options.policy.cacheSeconds * 1000;
  const imported = new Map<string, Promise<CryptoKey | Uint8Array>>();
  let cached: { readonly at: number; readonly keys: Promise<LoadedKey[]> } | undefined;

  const load = (): Promise<LoadedKey[]> => {
    if (cached !== undefined && Date.now() - cached.at < cacheMs) return cached.keys;
    const keys = (async () => {
      let rows = await findLiveKeys(db);
      if (rows.length === 0) {
        await rotate();
        rows = await findLiveKeys(db);
      }
      return Promise.all(
        rows.map(async (row) => {
          let key = imported.get(row.kid);
          if (key === undefined) {
            key = importJWK(row.private_jwk as JWK, ALGORITHM);
            imported.set(row.kid, key);
          }
          return { row, privateKey: await key };
        }),
      );
    })();
    cached = { at: Date.now(), keys };
    keys.catch(() => {
      if (cached?.keys === keys) cached = undefined;
    });
    return keys;
  };

  /** The key that signs now: the most recently activated one; before any is active, the oldest. */
  const signingKey = async (): Promise<LoadedKey> => {
    const keys = await load();
    const now = Date.now();
    const active = keys.filter((k) => k.row.activate_at.getTime() <= now);
    const chosen = active.sort((a, b) => b.row.activate_at.getTime() - a.row.activate_at.getTime())[0] ?? keys[0];
    if (chosen === undefined) throw new Error("no signing key");
    return chosen;
  };

  const sign = async (claims: Record<string, unknown>, subject: string): Promise<IssuedToken> => {
    const key = await signingKey();
    const now = Math.floor(Date.now() / 1000);
    const exp = now + options.ttlSeconds;
    const token = await new SignJWT(claims)
      .setProtectedHeader({ alg: ALGORITHM, kid: key.row.kid, typ: "at+jwt" })
      .setIssuer(options.issuer)
      .setAudience(options.audience)
      .setSubject(subject)
      .setIssuedAt(now)
      .setExpirationTime(exp)
      .setJti(randomUUID())
      .sign(key.privateKey);
    return { token, expiresAt: new Date(exp * 1000) };
  };

  async function rotate(rotateOptions: { readonly force?: boolean } = {}): Promise<string | undefined> {
    const created = await options.database.transaction(async (trx) => {
      await lockKeys(trx);
      const live = await findLiveKeys(trx);
      const now = await databaseNow(trx);
      const newest = live.at(-1);
      const due =
        newest === undefined ||
        rotateOptions.force === true ||
        now.getTime() - newest.created_at.getTime() >= options.policy.rotationDays * 86_400_000;
      if (!due) return undefined;
      const { privateKey, publicKey } = await generateKeyPair(ALGORITHM, { extractable: true });
      const publicJwk = await exportJWK(publicKey);
      const kid = await calculateJwkThumbprint(publicJwk);
      // The first key signs at once; a successor is published first, so that verifiers caching
      // the JWKS know it before any token carries it.
      const activateAt = newest === undefined ? now : new Date(now.getTime() + options.policy.publishSeconds * 1000);
      await insertKey(trx, {
        kid,
        privateJwk: await exportJWK(privateKey),
        publicJwk: { ...publicJwk, kid, alg: ALGORITHM, use: "sig" },
        activateAt,
      });
      // Tokens signed by the old keys until the new one activates live one lifetime more (plus
      // the verifiers' 30 s clock tolerance and a margin).
      await scheduleRetirement(trx, kid, new Date(activateAt.getTime() + (options.ttlSeconds + 90) * 1000));
      return kid;
    });
    if (created !== undefined) cached = undefined;
    return created;
  }

  const jwks = async (): Promise<JSONWebKeySet> => {
    const keys = await load();
    return { keys: keys.map((k) => ({ ...(k.row.public_jwk as JWK) })) };
  };

  return {
    issueAccountToken: (account) =>
      sign(
        { role: account.role, scope: SHOPPER_SCOPES.join(" "), email: account.email, sid: account.sessionId },
        account.accountId,
      ),
    issueClientToken: (client) =>
      sign({ role: "client", scope: client.scopes.join(" "), client_id: client.clientId }, client.clientId),
    jwks,
    async handleAdminRequest(request, response) {
      const path = (request.url ?? "/").split("?", 1)[0];
      if (path !== JWKS_PATH) return false;
      if (request.method !== "GET" && request.method !== "HEAD") {
        response.writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain; charset=utf-8" });
        response.end("Method not allowed\n");
        return true;
      }
      const body = JSON.stringify(await jwks());
      response.writeHead(200, {
        "content-type": "application/jwk-set+json",
        // Verifiers cache it themselves (the kit: 10 minutes, refetching for an unknown kid).
        "cache-control": "public, max-age=60",
      });
      response.end(request.method === "HEAD" ? undefined : body);
      return true;
    },
    rotate,
    reload() {
      cached = undefined;
    },
    async deleteOldKeys() {
      const now = await databaseNow(db);
      return deleteRetiredKeys(db, new Date(now.getTime() - 86_400_000));
    },
  };
}
