// Runs the development OAuth2 token issuer (client-credentials grant, ES256 JWTs, JWKS).
// NOT for production. Usage:
//   node --conditions=source --import tsx scripts/dev-token-issuer.ts
// Environment: DEV_ISSUER_HOST (127.0.0.1), DEV_ISSUER_PORT (8088), AUTH_AUDIENCE (recommendations),
// DEV_CLIENTS (JSON {"id": {"secret": "...", "scopes": ["..."]}}; default: marketplace / marketplace-dev-secret
// with scope recommendations.read), DEV_TOKEN_TTL_SECONDS (300). See docs/security.md.
import { envInt } from "@obfy/kit/core";
import { createDevTokenIssuer, type DevClient } from "@obfy/kit/dev";

const DEFAULT_CLIENTS: Record<string, DevClient> = {
  marketplace: { secret: "marketplace-dev-secret", scopes: ["recommendations.read"] },
};

function clients(): Record<string, DevClient> {
  const text = process.env.DEV_CLIENTS?.trim();
  if (!text) return DEFAULT_CLIENTS;
  const parsed: unknown = JSON.parse(text);
  const valid =
    typeof parsed === "object" &&
    parsed !== null &&
    Object.values(parsed).every(
      (c: unknown) =>
        typeof c === "object" &&
        c !== null &&
        typeof (c as DevClient).secret === "string" &&
        Array.isArray((c as DevClient).scopes),
    );
  if (!valid)
    throw new Error(
      'DEV_CLIENTS must look like {"marketplace": {"secret": "...", "scopes": ["recommendations.read"]}}',
    );
  return parsed as Record<string, DevClient>;
}

try {
  const issuer = await createDevTokenIssuer(
    {
      clients: clients(),
      audience: process.env.AUTH_AUDIENCE?.trim() || "recommendations",
      ttlSeconds: envInt(process.env, "DEV_TOKEN_TTL_SECONDS", 300, { min: 10, max: 86_400 }),
    },
    {
      host: process.env.DEV_ISSUER_HOST?.trim() || "127.0.0.1",
      port: envInt(process.env, "DEV_ISSUER_PORT", 8088, { min: 0, max: 65535 }),
    },
  );
  console.log(`Development token issuer (NOT for production) at ${issuer.url}
  token endpoint: POST ${issuer.tokenUrl} (grant_type=client_credentials)
  Point services at it with:
    AUTH_JWKS_URL=${issuer.jwksUrl} AUTH_ISSUER=${issuer.issuer} AUTH_AUDIENCE=${process.env.AUTH_AUDIENCE?.trim() || "recommendations"}`);
  const stop = () => {
    void issuer.close().then(() => process.exit(0));
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
} catch (error) {
  console.error(`dev-token-issuer: ${(error as Error).message}`);
  process.exit(1);
}
