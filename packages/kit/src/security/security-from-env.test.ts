import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { dummyV1 } from "@obfy/protos";
import { tlsTargetOptions } from "../client/tls-target-options.js";
import { createDevTokenIssuer, type DevTokenIssuer } from "../dev/dev-token-issuer.js";
import { executeOn, healthCheckOnce, startDummyServer } from "./fixtures/servers.js";
import { createTestPki, type TestPki } from "./fixtures/test-pki.js";
import { createClientSecurity, createServerSecurity } from "./security-from-env.js";

describe("security from environment variables", () => {
  let pki: TestPki;
  let issuer: DevTokenIssuer;
  const cleanups: Array<() => unknown> = [];
  before(async () => {
    [pki, issuer] = await Promise.all([
      createTestPki(),
      createDevTokenIssuer({
        audience: "recommendations",
        clients: { marketplace: { secret: "s3cret", scopes: ["recommendations.read"] } },
      }),
    ]);
  });
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
    await issuer?.close();
    await pki?.remove();
  });

  const serverEnv = () => ({
    TLS_MODE: "mtls",
    TLS_CERT_FILE: pki.server.certFile,
    TLS_KEY_FILE: pki.server.keyFile,
    TLS_CA_FILE: pki.ca.certFile,
  });
  const clientEnv = (pair = pki.marketplace) => ({
    TLS_MODE: "mtls",
    TLS_CERT_FILE: pair.certFile,
    TLS_KEY_FILE: pair.keyFile,
    TLS_CA_FILE: pki.ca.certFile,
  });
  const start = async (env: NodeJS.ProcessEnv) => {
    const security = createServerSecurity(env);
    const started = await startDummyServer({ credentials: security.credentials, interceptors: security.interceptors });
    cleanups.push(() => started.server.shutdown());
    return started.target;
  };
  const client = (target: string, env: NodeJS.ProcessEnv) => {
    const c = new dummyV1.DummyServiceClient(target, createClientSecurity(env).credentials, tlsTargetOptions(target));
    cleanups.push(() => c.close());
    return c;
  };

  test("mTLS with the default policy: only the Recommendations APIs for the marketplace; health for all", async () => {
    const target = await start(serverEnv());
    assert.equal((await executeOn(client(target, clientEnv()), "x")).code, "PERMISSION_DENIED");
    assert.equal((await healthCheckOnce(target, createClientSecurity(clientEnv(pki.other)).credentials)).code, "OK");
  });

  test("AUTHZ_POLICY opens a method to the marketplace, whose identity the handler sees", async () => {
    const target = await start({
      ...serverEnv(),
      AUTHZ_POLICY: '{"allow":{"marketplace":["/kit.testing.v1.DummyService/*"]}}',
    });
    assert.equal((await executeOn(client(target, clientEnv()), "whoami")).output, "marketplace");
    assert.equal((await executeOn(client(target, clientEnv(pki.other)), "whoami")).code, "PERMISSION_DENIED");
  });

  test("TLS + tokens: the client fetches a client-credentials token from AUTH_TOKEN_URL", async () => {
    const target = await start({
      TLS_MODE: "tls",
      TLS_CERT_FILE: pki.server.certFile,
      TLS_KEY_FILE: pki.server.keyFile,
      AUTH_JWKS_URL: issuer.jwksUrl,
      AUTH_ISSUER: issuer.issuer,
      AUTH_AUDIENCE: "recommendations",
      AUTH_REQUIRED_SCOPES: '{"*": ["recommendations.read"]}',
    });
    const withToken = client(target, {
      TLS_MODE: "tls",
      TLS_CA_FILE: pki.ca.certFile,
      AUTH_TOKEN_URL: issuer.tokenUrl,
      AUTH_CLIENT_ID: "marketplace",
      AUTH_CLIENT_SECRET: "s3cret",
    });
    assert.equal((await executeOn(withToken, "whoami")).output, "marketplace");
    const without = client(target, { TLS_MODE: "tls", TLS_CA_FILE: pki.ca.certFile });
    assert.equal((await executeOn(without, "whoami")).code, "UNAUTHENTICATED");
  });

  test("unsafe or incomplete combinations are configuration errors", () => {
    assert.throws(
      () =>
        createServerSecurity({
          AUTH_JWKS_URL: "https://idp/jwks",
          AUTH_ISSUER: "i",
          AUTH_AUDIENCE: "a",
          AUTH_PLAINTEXT_TOKENS: "never",
        }),
      /AUTH_PLAINTEXT_TOKENS must be "deny", "loopback" or "allow"/,
    );
    assert.throws(
      () =>
        createServerSecurity({
          AUTH_JWKS_URL: "https://idp/jwks",
          AUTH_JWKS: '{"keys":[]}',
          AUTH_ISSUER: "i",
          AUTH_AUDIENCE: "a",
        }),
      /Set AUTH_JWKS_URL or AUTH_JWKS, not both/,
    );
    assert.throws(
      () => createClientSecurity({ AUTH_TOKEN_URL: "https://idp/token" }),
      /AUTH_CLIENT_ID and AUTH_CLIENT_SECRET/,
    );
    assert.throws(
      () => createClientSecurity({ AUTH_TOKEN_URL: "https://idp/token", AUTH_CLIENT_ID: "a", AUTH_CLIENT_SECRET: "b" }),
      /^InsecureTokenTransportError: bearer tokens require TLS/,
    );
    assert.equal(createServerSecurity({ HEALTH_PORT: "8081" }).healthPort, 8081);
    assert.throws(() => createServerSecurity({ HEALTH_PORT: "http" }), /HEALTH_PORT must be an integer/);
  });
});
