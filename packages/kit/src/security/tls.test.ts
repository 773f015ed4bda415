import assert from "node:assert/strict";
import { once } from "node:events";
import { join } from "node:path";
import { after, before, describe, type TestContext, test } from "node:test";
import { ChannelCredentials, status } from "@grpc/grpc-js";
import { dummyV1 } from "@obfy/protos";
import pino from "pino";
import { ClientError } from "../client/client-error.js";
import { createClient } from "../client/create-client.js";
import { tlsTargetOptions } from "../client/tls-target-options.js";
import { issueCertificate } from "../dev/dev-certificates.js";
import { createAuthorizationInterceptor } from "./authorization.js";
import { createPythonStubs, type PythonStubs } from "./fixtures/python-client.js";
import { clientHandshakeError, executeOn, executeOnce, servedSerial, startDummyServer } from "./fixtures/servers.js";
import { createTestPki, type Pair, type TestPki } from "./fixtures/test-pki.js";
import { createChannelCredentials, createServerCredentials, readTlsConfig, type TlsConfig } from "./tls.js";
import { TlsConfigError } from "./tls-config-error.js";

describe("readTlsConfig", () => {
  test("defaults to plaintext", () => {
    assert.equal(readTlsConfig({}).mode, "off");
  });

  test("rejects an unknown mode, naming the variable and the choices", () => {
    assert.throws(() => readTlsConfig({ TLS_MODE: "yes" }), {
      name: "TlsConfigError",
      message: 'TLS_MODE must be one of off, tls, mtls; got "yes"',
    });
  });

  test("mtls without TLS_CA_FILE is a configuration error on both sides", () => {
    const env = { TLS_MODE: "mtls", TLS_CERT_FILE: "/c.pem", TLS_KEY_FILE: "/c.key" };
    assert.throws(() => readTlsConfig(env, "server"), /TLS_MODE=mtls requires TLS_CA_FILE \(the CA that signs client/);
    assert.throws(
      () => readTlsConfig(env, "client"),
      /TLS_MODE=mtls requires TLS_CA_FILE \(the CA that signs the server/,
    );
  });

  test("a TLS server needs its certificate and key; a TLS client needs neither", () => {
    assert.throws(() => readTlsConfig({ TLS_MODE: "tls" }, "server"), /TLS_MODE=tls requires TLS_CERT_FILE/);
    assert.throws(
      () => readTlsConfig({ TLS_MODE: "tls", TLS_CERT_FILE: "/c.pem" }, "server"),
      /TLS_MODE=tls requires TLS_KEY_FILE/,
    );
    assert.deepEqual(readTlsConfig({ TLS_MODE: "TLS", TLS_CA_FILE: "/ca.pem" }, "client"), {
      mode: "tls",
      certFile: undefined,
      keyFile: undefined,
      caFile: "/ca.pem",
      reloadIntervalMs: 30_000,
    });
  });
});

describe("credentials from files", () => {
  let pki: TestPki;
  before(async () => {
    pki = await createTestPki();
  });
  after(() => pki.remove());

  test("a missing file fails at start with the path in the message", () => {
    const config: TlsConfig = {
      mode: "tls",
      certFile: `${pki.dir}/nope.pem`,
      keyFile: pki.server.keyFile,
      reloadIntervalMs: 1000,
    };
    assert.throws(
      () => createServerCredentials(config),
      (error: unknown) => {
        assert.ok(error instanceof TlsConfigError);
        assert.match(error.message, /Cannot read certificate file .*nope\.pem: ENOENT/);
        return true;
      },
    );
  });

  test("a key that does not belong to the certificate is refused", () => {
    const config: TlsConfig = {
      mode: "tls",
      certFile: pki.server.certFile,
      keyFile: pki.marketplace.keyFile,
      reloadIntervalMs: 1000,
    };
    assert.throws(() => createServerCredentials(config), /is not the private key of the certificate/);
  });
});

describe("mTLS server over real sockets (grpc-js and Python grpcio clients)", () => {
  let pki: TestPki;
  let python: PythonStubs;
  let target: string;
  let port: number;
  let stop: () => Promise<void>;

  const nodeClient = (pair: Pair | undefined, ca = pki.ca.certFile) =>
    createChannelCredentials({
      mode: pair ? "mtls" : "tls",
      caFile: ca,
      certFile: pair?.certFile,
      keyFile: pair?.keyFile,
      reloadIntervalMs: 60_000,
    });

  before(async () => {
    [pki, python] = await Promise.all([createTestPki(), createPythonStubs()]);
    const credentials = createServerCredentials({
      mode: "mtls",
      certFile: pki.server.certFile,
      keyFile: pki.server.keyFile,
      caFile: pki.ca.certFile,
      reloadIntervalMs: 60_000,
    });
    const interceptors = [createAuthorizationInterceptor({ policy: { allow: { marketplace: ["*"] } } })];
    const started = await startDummyServer({ credentials, interceptors });
    target = started.target;
    port = started.port;
    stop = () => started.server.shutdown();
  });
  after(async () => {
    await stop?.();
    await Promise.all([pki?.remove(), python?.remove()]);
  });

  test("grpc-js: the marketplace certificate works; plaintext, cert-less, foreign-CA and expired clients are refused", async () => {
    const good = await executeOnce(target, nodeClient(pki.marketplace), "hello");
    assert.deepEqual(good, { ok: true, code: "OK", details: "", output: "hello" });

    const plaintext = await executeOnce(target, ChannelCredentials.createInsecure(), "hello");
    const certless = await executeOnce(target, nodeClient(undefined), "hello");
    const foreign = await executeOnce(target, nodeClient(pki.foreign), "hello");
    const expired = await executeOnce(target, nodeClient(pki.expired), "hello");
    // A client that trusts another CA refuses OUR server too.
    const wrongTrust = await executeOnce(target, nodeClient(pki.marketplace, pki.foreignCa.certFile), "hello");
    for (const [name, result] of Object.entries({ plaintext, certless, foreign, expired, wrongTrust })) {
      assert.equal(result.ok, false, `${name} should be refused`);
      assert.equal(result.code, "UNAVAILABLE", `${name}: ${result.details}`);
    }

    // The refusals happen at the TLS layer. The expired and foreign certificates name the same
    // identity as the accepted one and differ only in validity / issuer, so that is what is refused.
    assert.equal(await clientHandshakeError(port, pki.ca.certFile, pki.marketplace), undefined);
    assert.match((await clientHandshakeError(port, pki.ca.certFile, pki.expired)) ?? "", /closed/);
    assert.match((await clientHandshakeError(port, pki.ca.certFile, pki.foreign)) ?? "", /closed/);
    assert.match((await clientHandshakeError(port, pki.ca.certFile, undefined)) ?? "", /certificate required/);

    // The server is still fine for good clients after all those failed handshakes.
    assert.equal((await executeOnce(target, nodeClient(pki.marketplace), "still here")).output, "still here");
  });

  test("Python grpcio: the same table", async () => {
    const ca = pki.ca.certFile;
    const results = await python.call(target, [
      { name: "marketplace", ca, ...pem(pki.marketplace), service: "dummy", input: "from python" },
      { name: "plaintext", service: "dummy", input: "x" },
      { name: "certless", ca, service: "dummy", input: "x" },
      { name: "foreign", ca, ...pem(pki.foreign), service: "dummy", input: "x" },
      { name: "expired", ca, ...pem(pki.expired), service: "dummy", input: "x" },
      { name: "after", ca, ...pem(pki.marketplace), service: "dummy", input: "whoami" },
    ]);
    assert.deepEqual(results.marketplace, { ok: true, code: "OK", details: "", output: "from python" });
    for (const name of ["plaintext", "certless", "foreign", "expired"]) {
      assert.equal(results[name]?.ok, false, `${name} should be refused`);
      assert.equal(results[name]?.code, "UNAVAILABLE", `${name}: ${results[name]?.details}`);
    }
    // After the bad handshakes a good client is served, and the server sees its identity.
    assert.deepEqual(results.after, { ok: true, code: "OK", details: "", output: "marketplace" });
  });
});

describe("TLS to an IP address (Node 26 refuses it as the TLS server name)", () => {
  let pki: TestPki;
  before(async () => {
    pki = await createTestPki();
  });
  after(() => pki.remove());

  const serve = async (t: TestContext, pair: Pair) => {
    const credentials = createServerCredentials({ mode: "tls", ...pair, reloadIntervalMs: 60_000 });
    const started = await startDummyServer({ credentials });
    t.after(() => started.server.shutdown());
    return started.port;
  };
  const call = async (t: TestContext, target: string) => {
    const client = createClient(dummyV1.DummyServiceService, target, {
      credentials: createChannelCredentials({ mode: "tls", caFile: pki.ca.certFile, reloadIntervalMs: 60_000 }),
      logger: pino({ level: "silent" }),
      retry: false,
    });
    t.after(() => client.close());
    return client.execute({ input: "hello" }, { timeoutMs: 5000 });
  };

  test("is verified against the certificate's IP address SANs", async (t) => {
    // pki.server names localhost, 127.0.0.1 and ::1.
    const port = await serve(t, pki.server);
    assert.equal((await call(t, `127.0.0.1:${port}`)).output, "hello");
    assert.equal((await call(t, `ipv4:127.0.0.1:${port}`)).output, "hello");
    assert.equal((await call(t, `localhost:${port}`)).output, "hello");
  });

  test("a certificate without that IP address is refused, as strictly as a wrong host name", async (t) => {
    const dnsOnly = { certFile: join(pki.dir, "dns-only.pem"), keyFile: join(pki.dir, "dns-only.key") };
    await issueCertificate({ ca: pki.ca, ...dnsOnly, commonName: "127.0.0.1", hosts: ["localhost"], usage: "server" });
    const port = await serve(t, dnsOnly);
    assert.equal((await call(t, `localhost:${port}`)).output, "hello");
    await assert.rejects(call(t, `127.0.0.1:${port}`), (error: unknown) => {
      assert.ok(error instanceof ClientError);
      assert.equal(error.code, status.UNAVAILABLE);
      assert.match(error.details, /IP: 127\.0\.0\.1 is not in the cert's list/);
      return true;
    });
  });

  test("only IP-address targets get the server name override", () => {
    assert.deepEqual(tlsTargetOptions("127.0.0.1:50051"), { "grpc.ssl_target_name_override": "127.0.0.1." });
    assert.deepEqual(tlsTargetOptions("dns:///10.0.0.7:50051"), { "grpc.ssl_target_name_override": "10.0.0.7." });
    assert.deepEqual(tlsTargetOptions("ipv4:10.0.0.7:1,10.0.0.8:1"), { "grpc.ssl_target_name_override": "10.0.0.7." });
    assert.deepEqual(tlsTargetOptions("ipv6:[::1]:50051"), { "grpc.ssl_target_name_override": "::1." });
    assert.deepEqual(tlsTargetOptions("dns:///recommendations:50051"), {});
    assert.deepEqual(tlsTargetOptions("localhost:50051"), {});
    assert.deepEqual(tlsTargetOptions("unix:/run/recommendations.sock"), {});
  });
});

function pem(pair: Pair): { cert: string; key: string } {
  return { cert: pair.certFile, key: pair.keyFile };
}

describe("certificate rotation", () => {
  let pki: TestPki;
  before(async () => {
    pki = await createTestPki();
  });
  after(() => pki.remove());

  test("new connections get the new certificate; open calls and channels carry on", async (t) => {
    const reloaded: string[] = [];
    const reloads = new EventTarget();
    const log = {
      info(object: object, message: string) {
        if (message === "TLS certificates reloaded") {
          reloaded.push(String((object as { serial?: unknown }).serial));
          reloads.dispatchEvent(new Event("reload"));
        }
      },
      warn() {},
    };
    const credentials = createServerCredentials(
      { mode: "tls", certFile: pki.server.certFile, keyFile: pki.server.keyFile, reloadIntervalMs: 60_000 },
      { log },
    );
    const { server, port, target } = await startDummyServer({ credentials });
    t.after(() => server.shutdown());
    const client = new dummyV1.DummyServiceClient(
      target,
      createChannelCredentials({ mode: "tls", caFile: pki.ca.certFile, reloadIntervalMs: 60_000 }),
      tlsTargetOptions(target),
    );
    t.after(() => client.close());

    const before = await servedSerial(port, pki.ca.certFile);
    // An open bidi stream on the old connection.
    const stream = client.executeClientServerStream({ deadline: Date.now() + 20_000 });
    const status = once(stream, "status");
    const replies = stream[Symbol.asyncIterator]();
    stream.write({ input: "before" });
    assert.deepEqual((await replies.next()).value, { output: "before" });

    const reload = once(reloads, "reload");
    const rotated = await pki.rotateServer();
    assert.notEqual(rotated, before);
    await reload;
    assert.deepEqual(reloaded, [rotated]);

    assert.equal(await servedSerial(port, pki.ca.certFile), rotated, "a new connection is served the new certificate");
    stream.write({ input: "after" });
    assert.deepEqual((await replies.next()).value, { output: "after" }, "the open stream still works");
    stream.end();
    assert.equal((await replies.next()).done, true);
    assert.equal(((await status)[0] as { code: number }).code, 0);
    assert.equal((await executeOn(client, "old channel")).output, "old channel");
  });

  test("a half-written rotation (new certificate, old key) keeps serving the previous certificate", async (t) => {
    const warnings: string[] = [];
    const warned = new EventTarget();
    const credentials = createServerCredentials(
      { mode: "tls", certFile: pki.server.certFile, keyFile: pki.server.keyFile, reloadIntervalMs: 60_000 },
      {
        log: {
          info() {},
          warn(_object: object, message: string) {
            warnings.push(message);
            warned.dispatchEvent(new Event("warn"));
          },
        },
      },
    );
    const { server, port } = await startDummyServer({ credentials });
    t.after(() => server.shutdown());
    const before = await servedSerial(port, pki.ca.certFile);
    const { copyFile } = await import("node:fs/promises");
    const warning = once(warned, "warn");
    // The marketplace certificate with the server's key: a mismatched pair.
    await copyFile(pki.marketplace.certFile, pki.server.certFile);
    await warning;
    assert.match(warnings[0] ?? "", /still serving the previous certificate/);
    assert.equal(await servedSerial(port, pki.ca.certFile), before);
  });
});
