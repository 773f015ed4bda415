import type { PrincipalRole } from "../security/jwt-auth.js";
import { SHOPPER_SCOPES } from "../security/scopes.js";

/** The claims of a test token; everything but the subject has a default. */
export interface TestTokenClaims {
  /** `sub`: an account id (shoppers, admins) or a client id. */
  readonly subject: string;
  /** Default `shopper`. */
  readonly role?: PrincipalRole;
  /** Default: the shopper scopes for shoppers and admins, none for clients. */
  readonly scopes?: readonly string[];
  /** Default `<subject>@example.com` for shoppers and admins; none for clients. */
  readonly email?: string;
  /** Default 300 s; negative makes an expired token. */
  readonly expiresInSeconds?: number;
}

/** A signing key for tests and the environment that makes a service trust it. */
export interface TestIdentity {
  /** `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`: give them to a service under test. */
  readonly env: Readonly<Record<string, string>>;
  /** Signs a token as Accounts would (ES256, the store's issuer and audience). */
  token(claims: TestTokenClaims): Promise<string>;
  /** `authorization` metadata for a call: `{ authorization: "Bearer …" }`. */
  metadata(claims: TestTokenClaims): Promise<Record<string, string>>;
}

/** The store's token issuer and audience (docs/architecture.md, "Identity and authorization"). */
export const STORE_ISSUER = "obfy-accounts";
export const STORE_AUDIENCE = "obfy";

/**
 * A throwaway ES256 key for a test, standing in for Accounts: services started with `env` verify
 * the tokens `token()` signs, so a test can call a service as a shopper, an admin or a client
 * without running Accounts.
 */
export async function createTestIdentity(): Promise<TestIdentity> {
  const { exportJWK, generateKeyPair, SignJWT } = await import("jose");
  const { privateKey, publicKey } = await generateKeyPair("ES256");
  const kid = `test-${Math.random().toString(36).slice(2, 10)}`;
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: "ES256", use: "sig" };
  const token = async (claims: TestTokenClaims): Promise<string> => {
    const role = claims.role ?? "shopper";
    const scopes = claims.scopes ?? (role === "client" ? [] : SHOPPER_SCOPES);
    const email = claims.email ?? (role === "client" ? undefined : `${claims.subject}@example.com`);
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ role, scope: scopes.join(" "), ...(email === undefined ? {} : { email }) })
      .setProtectedHeader({ alg: "ES256", kid })
      .setIssuer(STORE_ISSUER)
      .setAudience(STORE_AUDIENCE)
      .setSubject(claims.subject)
      .setIssuedAt(now)
      .setExpirationTime(now + (claims.expiresInSeconds ?? 300))
      .sign(privateKey);
  };
  return {
    env: { AUTH_JWKS: JSON.stringify({ keys: [jwk] }), AUTH_ISSUER: STORE_ISSUER, AUTH_AUDIENCE: STORE_AUDIENCE },
    token,
    metadata: async (claims) => ({ authorization: `Bearer ${await token(claims)}` }),
  };
}
