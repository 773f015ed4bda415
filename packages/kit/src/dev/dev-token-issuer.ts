import { timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { JSONWebKeySet, JWK } from "jose";

/** One OAuth2 client the development issuer knows. */
export interface DevClient {
  readonly secret: string;
  /** Scopes this client may be granted. */
  readonly scopes: readonly string[];
}

/** Options for {@link createDevTokenIssuer}. */
export interface DevTokenIssuerOptions {
  /** Registered clients by `client_id`. */
  readonly clients: Readonly<Record<string, DevClient>>;
  /** `aud` of every token (the API's identifier, e.g. `recommendations`). */
  readonly audience: string;
  /** `iss`; defaults to the base URL the issuer listens on. */
  readonly issuer?: string;
  /** Token lifetime in seconds (default 300). */
  readonly ttlSeconds?: number;
}

/** A running development token issuer. */
export interface DevTokenIssuer {
  /** Base URL, e.g. `http://127.0.0.1:8088`. */
  readonly url: string;
  readonly issuer: string;
  /** `${url}/oauth2/token` */
  readonly tokenUrl: string;
  /** `${url}/.well-known/jwks.json` */
  readonly jwksUrl: string;
  /** The public keys, as served at {@link DevTokenIssuer.jwksUrl}. */
  readonly jwks: JSONWebKeySet;
  /** Signs a token directly (tests): standard claims filled in, `claims` override them. */
  issue(claims: Record<string, unknown>): Promise<string>;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 16 * 1024;

function secretsEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

async function readBody(request: IncomingMessage): Promise<string> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new Error("body too large");
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function send(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  response.writeHead(status, {
    "content-type": "application/json",
    "cache-control": "no-store",
    ...headers,
  });
  response.end(JSON.stringify(body));
}

/**
 * A tiny OAuth2 authorization server for development and tests (NOT for production): the
 * client-credentials grant at `POST /oauth2/token` (client authentication by HTTP Basic or
 * `client_id`/`client_secret` form fields, RFC 6749 §2.3.1), its public keys at
 * `GET /.well-known/jwks.json`, and discovery at `GET /.well-known/openid-configuration`.
 * Tokens are ES256 JWTs with `iss`, `aud`, `sub`/`client_id`, `scope`, `iat`, `exp`, `jti`.
 * A new signing key is generated at every start.
 */
export async function createDevTokenIssuer(
  options: DevTokenIssuerOptions,
  listen: { host?: string; port?: number } = {},
): Promise<DevTokenIssuer> {
  // Loaded here, not at import: only development setups and tests start an issuer.
  const { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT } = await import("jose");
  const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
  const publicJwk: JWK = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  const jwks: JSONWebKeySet = { keys: [{ ...publicJwk, kid, alg: "ES256", use: "sig" }] };
  const ttlSeconds = options.ttlSeconds ?? 300;
  let issuer = options.issuer ?? "";
  let url = "";

  const issue = (claims: Record<string, unknown>): Promise<string> =>
    new SignJWT({ ...claims })
      .setProtectedHeader({ alg: "ES256", kid, typ: "at+jwt" })
      .setIssuer(issuer)
      .setAudience(options.audience)
      .setIssuedAt()
      .setExpirationTime(`${ttlSeconds}s`)
      .setJti(crypto.randomUUID())
      .sign(privateKey);

  const token = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const type = request.headers["content-type"] ?? "";
    if (!type.startsWith("application/x-www-form-urlencoded")) {
      send(response, 400, { error: "invalid_request", error_description: "use application/x-www-form-urlencoded" });
      return;
    }
    const form = new URLSearchParams(await readBody(request));
    let clientId = form.get("client_id") ?? undefined;
    let clientSecret = form.get("client_secret") ?? undefined;
    const basic = /^Basic (.+)$/i.exec(request.headers.authorization ?? "");
    if (basic?.[1]) {
      const pair = Buffer.from(basic[1], "base64").toString("utf8");
      const colon = pair.indexOf(":");
      clientId = decodeURIComponent(colon === -1 ? pair : pair.slice(0, colon));
      clientSecret = colon === -1 ? undefined : decodeURIComponent(pair.slice(colon + 1));
    }
    if (form.get("grant_type") !== "client_credentials") {
      send(response, 400, { error: "unsupported_grant_type" });
      return;
    }
    const client =
      clientId !== undefined && Object.hasOwn(options.clients, clientId) ? options.clients[clientId] : undefined;
    if (!client || clientSecret === undefined || !secretsEqual(clientSecret, client.secret)) {
      send(response, 401, { error: "invalid_client" }, { "www-authenticate": 'Basic realm="dev-token-issuer"' });
      return;
    }
    const asked = form.get("scope")?.split(" ").filter(Boolean);
    const granted = asked ?? [...client.scopes];
    const refused = granted.filter((scope) => !client.scopes.includes(scope));
    if (refused.length > 0) {
      send(response, 400, { error: "invalid_scope", error_description: `not allowed: ${refused.join(" ")}` });
      return;
    }
    const scope = granted.join(" ");
    const accessToken = await issue({ sub: clientId, client_id: clientId, scope });
    send(response, 200, { access_token: accessToken, token_type: "Bearer", expires_in: ttlSeconds, scope });
  };

  const server: Server = createServer((request, response) => {
    const path = new URL(request.url ?? "/", "http://localhost").pathname;
    const route =
      request.method === "POST" && path === "/oauth2/token"
        ? token(request, response)
        : request.method === "GET" && path === "/.well-known/jwks.json"
          ? Promise.resolve(send(response, 200, jwks, { "cache-control": "public, max-age=300" }))
          : request.method === "GET" && path === "/.well-known/openid-configuration"
            ? Promise.resolve(
                send(response, 200, {
                  issuer,
                  token_endpoint: `${url}/oauth2/token`,
                  jwks_uri: `${url}/.well-known/jwks.json`,
                  grant_types_supported: ["client_credentials"],
                  token_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post"],
                  id_token_signing_alg_values_supported: ["ES256"],
                }),
              )
            : Promise.resolve(send(response, 404, { error: "not_found" }));
    route.catch(() => {
      if (!response.headersSent) send(response, 400, { error: "invalid_request" });
      else response.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(listen.port ?? 0, listen.host ?? "127.0.0.1", () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  url = `http://${host}:${address.port}`;
  issuer ||= url;
  return {
    url,
    issuer,
    tokenUrl: `${url}/oauth2/token`,
    jwksUrl: `${url}/.well-known/jwks.json`,
    jwks,
    issue,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
