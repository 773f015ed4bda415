import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { after, before, describe, test } from "node:test";
import { ChannelCredentials } from "@grpc/grpc-js";
import { dummyV1 } from "@obfy/protos";
import { exportJWK, generateKeyPair, type JWK, SignJWT, UnsecuredJWT } from "jose";
import pino from "pino";
import { tlsTargetOptions } from "../client/tls-target-options.js";
import { createDevTokenIssuer, type DevTokenIssuer } from "../dev/dev-token-issuer.js";
import {
  createClientCredentialsTokenSource,
  InsecureTokenTransportError,
  withBearerToken,
} from "./bearer-credentials.js";
import { createPythonStubs, type PythonStubs } from "./fixtures/python-client.js";
import { type CallOutcome, executeOn, executeOnce, healthCheckOnce, startDummyServer } from "./fixtures/servers.js";
import { createTestPki, type TestPki } from "./fixtures/test-pki.js";
import { createJwtAuthInterceptor, readJwtAuthConfig, UNAUTHENTICATED_MESSAGE } from "./jwt-auth.js";
import { createChannelCredentials, createServerCredentials } from "./tls.js";

const ISSUER = "https://idp.test/";
const AUDIENCE = "recommendations";
const SCOPES = { "/kit.testing.v1.DummyService/*": ["recommendations.read"] };
const UNAUTHENTICATED: CallOutcome = {
  ok: false,
  code: "UNAUTHENTICATED",
  details: UNAUTHENTICATED_MESSAGE,
  output: null,
};

type Key = Awaited<ReturnType<typeof generateKeyPair>>["privateKey"];

describe("readJwtAuthConfig", () => {
  test("off unless AUTH_JWKS_URL is set; then issuer and audience are required", () => {
    assert.equal(readJwtAuthConfig({}), undefined);
    assert.throws(() => readJwtAuthConfig({ AUTH_JWKS_URL: "not a url" }), /AUTH_JWKS_URL must be a URL/);
    assert.throws(() => readJwtAuthConfig({ AUTH_JWKS_URL: "https://idp/jwks" }), /AUTH_ISSUER must be set/);
    assert.throws(
      () => readJwtAuthConfig({ AUTH_JWKS_URL: "https://idp/jwks", AUTH_ISSUER: "https://idp/" }),
      /AUTH_AUDIENCE must be set/,
    );
    assert.throws(
      () =>
        readJwtAuthConfig({
          AUTH_JWKS_URL: "https://idp/jwks",
          AUTH_ISSUER: "i",
          AUTH_AUDIENCE: "a",
          AUTH_REQUIRED_SCOPES: '{"*": "read"}',
        }),
      /AUTH_REQUIRED_SCOPES must map methods to scope lists/,
    );
    const config = readJwtAuthConfig({
      AUTH_JWKS_URL: "https://idp/jwks",
      AUTH_ISSUER: "i",
      AUTH_AUDIENCE: "a",
      AUTH_REQUIRED_SCOPES: '{"*": ["read"]}',
    });
    assert.equal(String(config?.jwksUrl), "https://idp/jwks");
    assert.deepEqual(config?.requiredScopes, { "*": ["read"] });
  });
});

describe("JWT bearer tokens over TLS (real sockets)", () => {
  let pki: TestPki;
  let python: PythonStubs;
  let rsa: { privateKey: Key; jwk: JWK };
  let ec: { privateKey: Key; jwk: JWK };
  let attacker: { privateKey: Key; jwk: JWK };
  let target: string;
  let plaintextTarget: string;
  let client: dummyV1.DummyServiceClient;
  const logLines: string[] = [];
  const stops: Array<() => Promise<void>> = [];

  const keyPair = async (alg: "RS256" | "ES256", kid: string) => {
    const { privateKey, publicKey } = await generateKeyPair(alg);
    return { privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg } };
  };
  const sign = (
    key: { privateKey: Key },
    alg: "RS256" | "ES256",
    kid: string,
    claims: Record<string, unknown> = {},
    options: { exp?: string | number; aud?: string; iss?: string; header?: Record<string, unknown> } = {},
  ) =>
    new SignJWT({ scope: "recommendations.read", ...claims })
      .setProtectedHeader({ alg, kid, ...options.header })
      .setIssuer(options.iss ?? ISSUER)
      .setAudience(options.aud ?? AUDIENCE)
      .setSubject("reporting-job")
      .setIssuedAt()
      .setExpirationTime(options.exp ?? "5m")
      .sign(key.privateKey);

  before(async () => {
    [pki, python, rsa, ec, attacker] = await Promise.all([
      createTestPki(),
      createPythonStubs(),
      keyPair("RS256", "rsa-1"),
      keyPair("ES256", "ec-1"),
      keyPair("ES256", "ec-1"),
    ]);
    const logStream = new PassThrough();
    logStream.on("data", (chunk: Buffer) => logLines.push(chunk.toString()));
    const interceptor = createJwtAuthInterceptor({
      jwks: { keys: [rsa.jwk, ec.jwk] },
      issuer: ISSUER,
      audience: AUDIENCE,
      requiredScopes: SCOPES,
    });
    const secure = await startDummyServer({
      credentials: createServerCredentials({
        mode: "tls",
        certFile: pki.server.certFile,
        keyFile: pki.server.keyFile,
        reloadIntervalMs: 60_000,
      }),
      interceptors: [interceptor],
      logger: pino({ level: "info" }, logStream),
    });
    const plaintext = await startDummyServer({
      credentials: createServerCredentials({ mode: "off", reloadIntervalMs: 1000 }),
      interceptors: [interceptor],
    });
    stops.push(
      () => secure.server.shutdown(),
      () => plaintext.server.shutdown(),
    );
    target = secure.target;
    plaintextTarget = plaintext.target;
    client = new dummyV1.DummyServiceClient(
      target,
      createChannelCredentials({ mode: "tls", caFile: pki.ca.certFile, reloadIntervalMs: 60_000 }),
      tlsTargetOptions(target),
    );
  });
  after(async () => {
    client?.close();
    await Promise.all(stops.map((stop) => stop()));
    await Promise.all([pki?.remove(), python?.remove()]);
  });

  test("valid RS256 and ES256 tokens are accepted; the subject becomes the identity", async () => {
    assert.deepEqual(await executeOn(client, "whoami", await sign(rsa, "RS256", "rsa-1")), {
      ok: true,
      code: "OK",
      details: "",
      output: "reporting-job",
    });
    assert.equal((await executeOn(client, "whoami", await sign(ec, "ES256", "ec-1"))).output, "reporting-job");
  });

  test("expired, wrong audience, wrong issuer and missing exp are UNAUTHENTICATED with a generic message", async () => {
    const expired = await sign(ec, "ES256", "ec-1", {}, { exp: Math.floor(Date.now() / 1000) - 120 });
    assert.deepEqual(await executeOn(client, "x", expired), UNAUTHENTICATED);
    assert.deepEqual(
      await executeOn(client, "x", await sign(ec, "ES256", "ec-1", {}, { aud: "catalog" })),
      UNAUTHENTICATED,
    );
    assert.deepEqual(
      await executeOn(client, "x", await sign(ec, "ES256", "ec-1", {}, { iss: "https://evil/" })),
      UNAUTHENTICATED,
    );
    const noExp = await new SignJWT({ scope: "recommendations.read", sub: "x" })
      .setProtectedHeader({ alg: "ES256", kid: "ec-1" })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .sign(ec.privateKey);
    assert.deepEqual(await executeOn(client, "x", noExp), UNAUTHENTICATED);
    // The reason is in the server's log, not in the reply.
    assert.ok(
      logLines.some((line) => line.includes("ERR_JWT_EXPIRED")),
      "expiry reason logged",
    );
    assert.ok(
      logLines.some((line) => line.includes('unexpected \\"aud\\" claim value')),
      "audience reason logged",
    );
  });

  test("alg none, keys in the header, a forged signature and HMAC are refused", async () => {
    const none = new UnsecuredJWT({ sub: "x", scope: "recommendations.read" })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setExpirationTime("5m")
      .encode();
    assert.deepEqual(await executeOn(client, "x", none), UNAUTHENTICATED);
    // Signed by the attacker, with the attacker's public key offered in the header.
    const embedded = await sign(
      attacker,
      "ES256",
      "ec-1",
      {},
      { header: { jwk: { kty: "EC", crv: "P-256", x: attacker.jwk.x, y: attacker.jwk.y } } },
    );
    assert.deepEqual(await executeOn(client, "x", embedded), UNAUTHENTICATED);
    const jku = await sign(attacker, "ES256", "ec-1", {}, { header: { jku: "https://evil/jwks.json" } });
    assert.deepEqual(await executeOn(client, "x", jku), UNAUTHENTICATED);
    // Same kid as the real key, wrong key: the signature does not verify.
    assert.deepEqual(await executeOn(client, "x", await sign(attacker, "ES256", "ec-1")), UNAUTHENTICATED);
    const hmac = await new SignJWT({ sub: "x", scope: "recommendations.read" })
      .setProtectedHeader({ alg: "HS256", kid: "ec-1" })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setExpirationTime("5m")
      .sign(new TextEncoder().encode(JSON.stringify(ec.jwk)));
    assert.deepEqual(await executeOn(client, "x", hmac), UNAUTHENTICATED);
    assert.ok(
      logLines.some((line) => line.includes("key reference (jwk)")),
      "embedded-key reason logged",
    );
  });

  test("no token or a malformed header is UNAUTHENTICATED; health needs no token", async () => {
    assert.deepEqual(await executeOn(client, "x"), UNAUTHENTICATED);
    assert.deepEqual(await executeOn(client, "x", "not.a.jwt"), UNAUTHENTICATED);
    const credentials = createChannelCredentials({ mode: "tls", caFile: pki.ca.certFile, reloadIntervalMs: 60_000 });
    assert.equal((await healthCheckOnce(target, credentials)).code, "OK");
  });

  test("a missing scope is PERMISSION_DENIED naming the scope", async () => {
    const token = await sign(ec, "ES256", "ec-1", { scope: "catalog.read" });
    assert.deepEqual(await executeOn(client, "x", token), {
      ok: false,
      code: "PERMISSION_DENIED",
      details: 'Token lacks the scope "recommendations.read" required for /kit.testing.v1.DummyService/Execute',
      output: null,
    });
  });

  test("a token over plaintext is refused by the server, and the client helper will not send one", async () => {
    const token = await sign(ec, "ES256", "ec-1");
    assert.deepEqual(await executeOnce(plaintextTarget, ChannelCredentials.createInsecure(), "x", token), {
      ok: false,
      code: "UNAUTHENTICATED",
      details: "bearer tokens require TLS",
      output: null,
    });
    assert.throws(
      () => withBearerToken(ChannelCredentials.createInsecure(), () => token),
      (error: unknown) => {
        assert.ok(error instanceof InsecureTokenTransportError);
        assert.match(error.message, /^bearer tokens require TLS/);
        return true;
      },
    );
  });

  test("Python grpcio: valid, expired and missing tokens", async () => {
    const ca = pki.ca.certFile;
    const results = await python.call(target, [
      { name: "valid", ca, service: "dummy", input: "whoami", token: await sign(rsa, "RS256", "rsa-1") },
      {
        name: "expired",
        ca,
        service: "dummy",
        input: "x",
        token: await sign(ec, "ES256", "ec-1", {}, { exp: Math.floor(Date.now() / 1000) - 120 }),
      },
      { name: "missing", ca, service: "dummy", input: "x" },
    ]);
    assert.deepEqual(results.valid, { ok: true, code: "OK", details: "", output: "reporting-job" });
    assert.deepEqual(results.expired, UNAUTHENTICATED);
    assert.deepEqual(results.missing, UNAUTHENTICATED);
  });
});

describe("development token issuer (OAuth2 client credentials) with a remote JWKS", () => {
  let pki: TestPki;
  let issuer: DevTokenIssuer;
  let target: string;
  let stop: () => Promise<void>;

  before(async () => {
    [pki, issuer] = await Promise.all([
      createTestPki(),
      createDevTokenIssuer({
        audience: AUDIENCE,
        clients: {
          marketplace: { secret: "s3cret", scopes: ["recommendations.read"] },
          catalog: { secret: "other", scopes: ["catalog.read"] },
        },
      }),
    ]);
    const started = await startDummyServer({
      credentials: createServerCredentials({
        mode: "tls",
        certFile: pki.server.certFile,
        keyFile: pki.server.keyFile,
        reloadIntervalMs: 60_000,
      }),
      interceptors: [
        createJwtAuthInterceptor({
          jwksUrl: issuer.jwksUrl,
          issuer: issuer.issuer,
          audience: AUDIENCE,
          requiredScopes: SCOPES,
        }),
      ],
    });
    target = started.target;
    stop = () => started.server.shutdown();
  });
  after(async () => {
    await stop?.();
    await issuer?.close();
    await pki?.remove();
  });

  const tls = () => createChannelCredentials({ mode: "tls", caFile: pki.ca.certFile, reloadIntervalMs: 60_000 });

  test("a client-credentials token fetched over HTTP authorizes calls", async () => {
    const getToken = createClientCredentialsTokenSource({
      tokenUrl: issuer.tokenUrl,
      clientId: "marketplace",
      clientSecret: "s3cret",
    });
    const first = await getToken();
    assert.equal(await getToken(), first, "cached until shortly before expiry");
    const client = new dummyV1.DummyServiceClient(target, withBearerToken(tls(), getToken), tlsTargetOptions(target));
    try {
      assert.deepEqual(await executeOn(client, "whoami"), { ok: true, code: "OK", details: "", output: "marketplace" });
    } finally {
      client.close();
    }
  });

  test("a client without the scope is denied; bad client secrets and grants get OAuth2 errors", async () => {
    const getToken = createClientCredentialsTokenSource({
      tokenUrl: issuer.tokenUrl,
      clientId: "catalog",
      clientSecret: "other",
    });
    const client = new dummyV1.DummyServiceClient(target, withBearerToken(tls(), getToken), tlsTargetOptions(target));
    try {
      assert.equal((await executeOn(client, "x")).code, "PERMISSION_DENIED");
    } finally {
      client.close();
    }
    const post = (body: Record<string, string>) =>
      fetch(issuer.tokenUrl, { method: "POST", body: new URLSearchParams(body) }).then(async (r) => [
        r.status,
        await r.json(),
      ]);
    assert.deepEqual(
      await post({ grant_type: "client_credentials", client_id: "marketplace", client_secret: "nope" }),
      [401, { error: "invalid_client" }],
    );
    assert.deepEqual(await post({ grant_type: "password", client_id: "marketplace", client_secret: "s3cret" }), [
      400,
      { error: "unsupported_grant_type" },
    ]);
    assert.deepEqual(
      await post({
        grant_type: "client_credentials",
        client_id: "marketplace",
        client_secret: "s3cret",
        scope: "admin",
      }),
      [400, { error: "invalid_scope", error_description: "not allowed: admin" }],
    );
    const jwks = (await (await fetch(issuer.jwksUrl)).json()) as { keys: Array<{ alg: string; d?: string }> };
    assert.equal(jwks.keys.length, 1);
    assert.equal(jwks.keys[0]?.alg, "ES256");
    assert.equal(jwks.keys[0]?.d, undefined, "no private key material in the JWKS");
  });
});
