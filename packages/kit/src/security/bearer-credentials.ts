import { CallCredentials, type ChannelCredentials, Metadata } from "@grpc/grpc-js";

/** Returns the current access token (cached or freshly fetched). */
export type TokenSource = () => string | Promise<string>;

/** Thrown when a bearer token would be sent over a plaintext channel. */
export class InsecureTokenTransportError extends Error {
  override readonly name = "InsecureTokenTransportError";
}

/** Call credentials that add `authorization: Bearer <token>` to every call, asking `getToken` each time. */
function createBearerCallCredentials(getToken: TokenSource): CallCredentials {
  return CallCredentials.createFromMetadataGenerator((_options, callback) => {
    Promise.resolve()
      .then(getToken)
      .then(
        (token) => {
          const metadata = new Metadata();
          metadata.set("authorization", `Bearer ${token}`);
          callback(null, metadata);
        },
        (error: unknown) => callback(error instanceof Error ? error : new Error(String(error))),
      );
  });
}

/**
 * `channelCredentials` plus a bearer token on every call. Refuses plaintext channel credentials
 * with {@link InsecureTokenTransportError}: a token sent in clear can be replayed by anyone on the
 * path (servers built with the kit refuse such calls too, but by then the token has leaked).
 */
export function withBearerToken(channelCredentials: ChannelCredentials, getToken: TokenSource): ChannelCredentials {
  if (!channelCredentials._isSecure()) {
    throw new InsecureTokenTransportError(
      "bearer tokens require TLS: set TLS_MODE=tls or mtls (with TLS_CA_FILE) for this client",
    );
  }
  return channelCredentials.compose(createBearerCallCredentials(getToken));
}

/** Options for {@link createClientCredentialsTokenSource}. */
export interface ClientCredentialsOptions {
  /** The identity provider's token endpoint, e.g. `https://idp.example/oauth2/token`. */
  readonly tokenUrl: string | URL;
  readonly clientId: string;
  readonly clientSecret: string;
  /** Space-separated scopes to ask for (default: whatever the provider grants). */
  readonly scope?: string;
  /** Some providers (Auth0) need the API audience in the request. */
  readonly audience?: string;
  /** Renew this many seconds before expiry (default 30). */
  readonly refreshSkewSeconds?: number;
  /** Abort a token request after this long (default 5000 ms). */
  readonly timeoutMs?: number;
}

/**
 * An OAuth2 client-credentials grant (RFC 6749 §4.4) as a {@link TokenSource}: fetches a token,
 * caches it until shortly before `expires_in`, and shares one request between concurrent callers.
 */
export function createClientCredentialsTokenSource(options: ClientCredentialsOptions): TokenSource {
  const skewMs = (options.refreshSkewSeconds ?? 30) * 1000;
  let cached: { token: string; renewAt: number } | undefined;
  let pending: Promise<string> | undefined;
  const fetchToken = async (): Promise<string> => {
    const body = new URLSearchParams({ grant_type: "client_credentials" });
    if (options.scope) body.set("scope", options.scope);
    if (options.audience) body.set("audience", options.audience);
    const basic = Buffer.from(
      `${encodeURIComponent(options.clientId)}:${encodeURIComponent(options.clientSecret)}`,
    ).toString("base64");
    const response = await fetch(options.tokenUrl, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", authorization: `Basic ${basic}` },
      body,
      signal: AbortSignal.timeout(options.timeoutMs ?? 5000),
    });
    const json = (await response.json().catch(() => ({}))) as {
      access_token?: unknown;
      expires_in?: unknown;
      error?: unknown;
    };
    if (!response.ok || typeof json.access_token !== "string") {
      throw new Error(
        `Token request to ${String(options.tokenUrl)} failed: HTTP ${response.status} ${String(json.error ?? "")}`,
      );
    }
    const lifetimeMs = typeof json.expires_in === "number" ? json.expires_in * 1000 : 60_000;
    cached = { token: json.access_token, renewAt: Date.now() + Math.max(0, lifetimeMs - skewMs) };
    return json.access_token;
  };
  return () => {
    if (cached && Date.now() < cached.renewAt) return cached.token;
    pending ??= fetchToken().finally(() => {
      pending = undefined;
    });
    return pending;
  };
}
