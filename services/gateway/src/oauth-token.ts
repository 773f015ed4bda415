// POST /oauth/token: the OAuth2 client-credentials grant (RFC 6749 §4.4). The client id and
// secret arrive as HTTP Basic credentials (preferred, §2.3.1) or form fields; Accounts checks
// them (ClientsService.IssueClientToken) and signs a short-lived JWT with the granted scopes.
// Errors are OAuth2's JSON (§5.2), not google.rpc.Status: OAuth2 clients expect that shape.
import { status } from "@grpc/grpc-js";
import { ClientError } from "@obfy/kit/client";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { Backends } from "./backends.js";

/** An OAuth2 error response (RFC 6749 §5.2). */
export interface OAuthError {
  readonly error: string;
  readonly error_description: string;
}

function fail(reply: FastifyReply, code: number, error: string, description: string) {
  if (code === 401) reply.header("www-authenticate", 'Basic realm="obfy"');
  return reply
    .code(code)
    .header("cache-control", "no-store")
    .send({ error, error_description: description } satisfies OAuthError);
}

/** The client id of a Basic `authorization` header, for the per-client rate limit. */
export function basicCredentials(header: string | undefined): { id: string; secret: string } | undefined {
  const match = /^Basic ([A-Za-z0-9+/=]+)$/i.exec(header?.trim() ?? "");
  if (!match?.[1]) return undefined;
  const decoded = Buffer.from(match[1], "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon === -1) return undefined;
  // RFC 6749 §2.3.1: both parts are form-urlencoded before base64.
  try {
    return {
      id: decodeURIComponent(decoded.slice(0, colon).replaceAll("+", " ")),
      secret: decodeURIComponent(decoded.slice(colon + 1).replaceAll("+", " ")),
    };
  } catch {
    return undefined;
  }
}

/** The handler of POST /oauth/token. */
export function createTokenHandler(backends: Backends) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const form = request.body instanceof URLSearchParams ? request.body : undefined;
    if (form === undefined) {
      return fail(reply, 400, "invalid_request", "Send the request as application/x-www-form-urlencoded");
    }
    const grantType = form.get("grant_type");
    if (grantType !== "client_credentials") {
      return fail(reply, 400, "unsupported_grant_type", 'grant_type must be "client_credentials"');
    }
    const basic = basicCredentials(request.headers.authorization);
    const clientId = basic?.id ?? form.get("client_id") ?? "";
    const clientSecret = basic?.secret ?? form.get("client_secret") ?? "";
    if (clientId === "" || clientSecret === "") {
      return fail(reply, 401, "invalid_client", "Client id and secret are required (HTTP Basic or form fields)");
    }
    const scopes = (form.get("scope") ?? "").split(" ").filter((s) => s !== "");
    try {
      const { accessToken, scope } = await backends.clients.issueClientToken(
        { clientId, clientSecret, scopes },
        { timeoutMs: 5000, metadata: { "x-request-id": request.id } },
      );
      const expires = accessToken?.expireTime?.seconds ?? 0;
      return reply
        .header("cache-control", "no-store")
        .header("pragma", "no-cache")
        .send({
          access_token: accessToken?.token ?? "",
          token_type: "Bearer",
          expires_in: Math.max(0, Math.round(expires - Date.now() / 1000)),
          scope,
        });
    } catch (error) {
      if (error instanceof ClientError && error.code === status.UNAUTHENTICATED) {
        return fail(reply, 401, "invalid_client", "Invalid client credentials");
      }
      if (error instanceof ClientError && error.code === status.PERMISSION_DENIED) {
        return fail(reply, 400, "invalid_scope", error.details);
      }
      if (error instanceof ClientError && error.code === status.INVALID_ARGUMENT) {
        return fail(reply, 400, "invalid_request", error.details);
      }
      throw error;
    }
  };
}
