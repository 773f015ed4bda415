import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { status } from "@grpc/grpc-js";
import { dummyV1 } from "@obfy/protos";
import { tlsTargetOptions } from "../client/tls-target-options.js";
import {
  authorize,
  createAuthorizationInterceptor,
  createGrpcAuthorizationInterceptor,
  DEFAULT_AUTHZ_POLICY,
  readAuthzPolicy,
} from "./authorization.js";
import { createPythonStubs, type PythonStubs } from "./fixtures/python-client.js";
import { executeOn, healthCheckOnce, reflectionListOn, startDummyServer } from "./fixtures/servers.js";
import { createTestPki, type Pair, type TestPki } from "./fixtures/test-pki.js";
import type { PeerIdentity } from "./peer-identity.js";
import { createChannelCredentials, createServerCredentials } from "./tls.js";

const id = (name: string): PeerIdentity => ({ name, source: "certificate" });

describe("authorization policy", () => {
  test("the default lets the marketplace call both Recommendations APIs and nothing else", () => {
    const p = DEFAULT_AUTHZ_POLICY;
    assert.equal(
      authorize(p, id("marketplace"), "/bookstore.recommendations.v1.RecommendationsService/Recommend").allowed,
      true,
    );
    assert.equal(authorize(p, id("marketplace"), "/Recommendations/Recommend").allowed, true);
    assert.deepEqual(authorize(p, id("marketplace"), "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"), {
      allowed: false,
      code: status.PERMISSION_DENIED,
      message:
        'Identity "marketplace" is not allowed to call /grpc.reflection.v1.ServerReflection/ServerReflectionInfo',
    });
    assert.equal(authorize(p, id("reporting"), "/Recommendations/Recommend").allowed, false);
    assert.deepEqual(authorize(p, undefined, "/grpc.health.v1.Health/Check"), { allowed: true, reason: "health" });
    assert.equal(authorize(p, undefined, "/Recommendations/Recommend").allowed, false);
  });

  test('"*" covers every method but reflection; reflection needs naming', () => {
    const p = { allow: { ops: ["*"], debug: ["/grpc.reflection.v1alpha.ServerReflection/*"] } };
    assert.equal(authorize(p, id("ops"), "/a.B/C").allowed, true);
    assert.equal(
      authorize(p, id("ops"), "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo").allowed,
      false,
    );
    assert.equal(
      authorize(p, id("debug"), "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo").allowed,
      true,
    );
    assert.equal(authorize(p, id("debug"), "/a.B/C").allowed, false);
  });

  test("AUTHZ_POLICY / AUTHZ_POLICY_FILE are parsed and checked with clear errors", async (t) => {
    assert.equal(readAuthzPolicy({}), DEFAULT_AUTHZ_POLICY);
    assert.deepEqual(readAuthzPolicy({ AUTHZ_POLICY: '{"allow":{"a":["/x.Y/Z"]}}' }), { allow: { a: ["/x.Y/Z"] } });
    assert.throws(() => readAuthzPolicy({ AUTHZ_POLICY: "{" }), /^AuthzPolicyError: AUTHZ_POLICY is not valid JSON/);
    assert.throws(
      () => readAuthzPolicy({ AUTHZ_POLICY: '{"allow":{"a":["x.Y/Z"]}}' }),
      /AUTHZ_POLICY: allow\.a\[0\] = "x\.Y\/Z" is not \/pkg\.Service\/Method, \/pkg\.Service\/\* or \*/,
    );
    assert.throws(() => readAuthzPolicy({ AUTHZ_POLICY: '{"allow":{},"deny":{}}' }), /unknown key\(s\) deny/);
    assert.throws(() => readAuthzPolicy({ AUTHZ_POLICY: "{}", AUTHZ_POLICY_FILE: "/x" }), /not both/);
    assert.throws(() => readAuthzPolicy({ AUTHZ_POLICY_FILE: "/nonexistent/policy.json" }), /Cannot read .*ENOENT/);
    const pki = await createTestPki();
    t.after(() => pki.remove());
    const file = join(pki.dir, "policy.json");
    await writeFile(file, JSON.stringify({ allow: { marketplace: ["/Recommendations/*"] } }));
    assert.deepEqual(readAuthzPolicy({ AUTHZ_POLICY_FILE: file }), { allow: { marketplace: ["/Recommendations/*"] } });
  });
});

describe("authorization over mTLS (real sockets, grpc-js and Python)", () => {
  let pki: TestPki;
  let python: PythonStubs;
  let target: string;
  let stop: () => Promise<void>;
  const clients: dummyV1.DummyServiceClient[] = [];
  const clientFor = (pair: Pair) => {
    const client = new dummyV1.DummyServiceClient(
      target,
      createChannelCredentials({
        mode: "mtls",
        caFile: pki.ca.certFile,
        certFile: pair.certFile,
        keyFile: pair.keyFile,
        reloadIntervalMs: 60_000,
      }),
      tlsTargetOptions(target),
    );
    clients.push(client);
    return client;
  };

  before(async () => {
    [pki, python] = await Promise.all([createTestPki(), createPythonStubs()]);
    const policy = { allow: { marketplace: ["*"], reporting: ["/grpc.reflection.v1.ServerReflection/*"] } };
    const credentials = createServerCredentials(
      {
        mode: "mtls",
        certFile: pki.server.certFile,
        keyFile: pki.server.keyFile,
        caFile: pki.ca.certFile,
        reloadIntervalMs: 60_000,
      },
      { interceptors: [createGrpcAuthorizationInterceptor({ policy })] },
    );
    const started = await startDummyServer({
      credentials,
      interceptors: [createAuthorizationInterceptor({ policy })],
      reflection: true,
    });
    target = started.target;
    stop = () => started.server.shutdown();
  });
  after(async () => {
    for (const client of clients) client.close();
    await stop?.();
    await Promise.all([pki?.remove(), python?.remove()]);
  });

  test("the marketplace is allowed and its identity is on the call context", async () => {
    const marketplace = clientFor(pki.marketplace);
    assert.deepEqual(await executeOn(marketplace, "whoami"), {
      ok: true,
      code: "OK",
      details: "",
      output: "marketplace",
    });
  });

  test("another identity gets PERMISSION_DENIED with a clear message", async () => {
    const reporting = clientFor(pki.other);
    assert.deepEqual(await executeOn(reporting, "whoami"), {
      ok: false,
      code: "PERMISSION_DENIED",
      details: 'Identity "reporting" is not allowed to call /kit.testing.v1.DummyService/Execute',
      output: null,
    });
  });

  test("health is allowed for any verified caller", async () => {
    const credentials = createChannelCredentials({
      mode: "mtls",
      caFile: pki.ca.certFile,
      certFile: pki.other.certFile,
      keyFile: pki.other.keyFile,
      reloadIntervalMs: 60_000,
    });
    assert.deepEqual(await healthCheckOnce(target, credentials), { ok: true, code: "OK", details: "", output: "1" });
  });

  test("reflection only for identities that name it (the marketplace's * does not cover it)", async () => {
    const denied = await reflectionListOn(clientFor(pki.marketplace));
    assert.equal(denied.code, "PERMISSION_DENIED");
    assert.equal(
      denied.details,
      'Identity "marketplace" is not allowed to call /grpc.reflection.v1.ServerReflection/ServerReflectionInfo',
    );
    const allowed = await reflectionListOn(clientFor(pki.other));
    assert.equal(allowed.code, "OK");
    assert.notEqual(allowed.output, "0 bytes");
    assert.equal((await reflectionListOn(clientFor(pki.other), "v1alpha")).code, "PERMISSION_DENIED");
  });

  test("the kit interceptor alone enforces the policy on application services", async (t) => {
    const policy = { allow: { marketplace: ["/kit.testing.v1.DummyService/Execute"] } };
    const kitOnly = await startDummyServer({
      credentials: createServerCredentials({
        mode: "mtls",
        certFile: pki.server.certFile,
        keyFile: pki.server.keyFile,
        caFile: pki.ca.certFile,
        reloadIntervalMs: 60_000,
      }),
      interceptors: [createAuthorizationInterceptor({ policy })],
    });
    t.after(() => kitOnly.server.shutdown());
    const credentials = (pair: Pair) =>
      createChannelCredentials({ mode: "mtls", caFile: pki.ca.certFile, ...pair, reloadIntervalMs: 60_000 });
    const marketplace = new dummyV1.DummyServiceClient(
      kitOnly.target,
      credentials(pki.marketplace),
      tlsTargetOptions(kitOnly.target),
    );
    const reporting = new dummyV1.DummyServiceClient(
      kitOnly.target,
      credentials(pki.other),
      tlsTargetOptions(kitOnly.target),
    );
    clients.push(marketplace, reporting);
    assert.equal((await executeOn(marketplace, "whoami")).output, "marketplace");
    assert.equal((await executeOn(reporting, "whoami")).code, "PERMISSION_DENIED");
    const stream = await new Promise<string>((resolve) => {
      const call = marketplace.executeServerStream({ input: "ab" });
      call.on("data", () => {});
      call.on("error", (error: { details: string }) => resolve(error.details));
      call.on("end", () => resolve("allowed"));
    });
    assert.equal(
      stream,
      'Identity "marketplace" is not allowed to call /kit.testing.v1.DummyService/ExecuteServerStream',
    );
  });

  test("Python grpcio sees the same table", async () => {
    const ca = pki.ca.certFile;
    const results = await python.call(target, [
      {
        name: "marketplace",
        ca,
        cert: pki.marketplace.certFile,
        key: pki.marketplace.keyFile,
        service: "dummy",
        input: "whoami",
      },
      { name: "reporting", ca, cert: pki.other.certFile, key: pki.other.keyFile, service: "dummy", input: "whoami" },
      { name: "health", ca, cert: pki.other.certFile, key: pki.other.keyFile, service: "health" },
    ]);
    assert.deepEqual(results.marketplace, { ok: true, code: "OK", details: "", output: "marketplace" });
    assert.deepEqual(results.reporting, {
      ok: false,
      code: "PERMISSION_DENIED",
      details: 'Identity "reporting" is not allowed to call /kit.testing.v1.DummyService/Execute',
      output: null,
    });
    assert.deepEqual(results.health, { ok: true, code: "OK", details: "", output: "SERVING" });
  });
});
