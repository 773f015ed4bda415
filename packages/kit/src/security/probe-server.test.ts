import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { ChannelCredentials } from "@grpc/grpc-js";
import { KitHealth } from "../server/health.js";
import { executeOnce, healthCheckOnce, startDummyServer } from "./fixtures/servers.js";
import { createTestPki, type TestPki } from "./fixtures/test-pki.js";
import { startProbeServer } from "./probe-server.js";
import { createChannelCredentials, createServerCredentials } from "./tls.js";

describe("plaintext probe port next to an mTLS server", () => {
  let pki: TestPki;
  let main: Awaited<ReturnType<typeof startDummyServer>>;
  let probe: Awaited<ReturnType<typeof startProbeServer>>;
  const insecure = ChannelCredentials.createInsecure();

  before(async () => {
    pki = await createTestPki();
    main = await startDummyServer({
      credentials: createServerCredentials({
        mode: "mtls",
        certFile: pki.server.certFile,
        keyFile: pki.server.keyFile,
        caFile: pki.ca.certFile,
        reloadIntervalMs: 60_000,
      }),
    });
    const health = main.server.health;
    assert.ok(health instanceof KitHealth, "createServer's health can register itself on another server");
    probe = await startProbeServer({ host: "127.0.0.1", port: 0, health });
  });
  after(async () => {
    await probe?.close();
    await main?.server.shutdown();
    await pki?.remove();
  });

  test("serves health in plaintext with the main server's status", async () => {
    assert.deepEqual(await healthCheckOnce(`127.0.0.1:${probe.port}`, insecure), {
      ok: true,
      code: "OK",
      details: "",
      output: "1",
    });
    assert.equal(
      (await healthCheckOnce(`127.0.0.1:${probe.port}`, insecure, "kit.testing.v1.DummyService")).output,
      "1",
    );
    main.server.health.setStatus("kit.testing.v1.DummyService", "NOT_SERVING");
    assert.equal(
      (await healthCheckOnce(`127.0.0.1:${probe.port}`, insecure, "kit.testing.v1.DummyService")).output,
      "2",
    );
    main.server.health.setStatus("kit.testing.v1.DummyService", "SERVING");
  });

  test("does not expose the business API; the main port stays TLS-only", async () => {
    assert.equal((await executeOnce(`127.0.0.1:${probe.port}`, insecure, "x")).code, "UNIMPLEMENTED");
    assert.equal((await executeOnce(main.target, insecure, "x")).code, "UNAVAILABLE");
    const mtls = createChannelCredentials({
      mode: "mtls",
      caFile: pki.ca.certFile,
      certFile: pki.marketplace.certFile,
      keyFile: pki.marketplace.keyFile,
      reloadIntervalMs: 60_000,
    });
    assert.equal((await executeOnce(main.target, mtls, "x")).output, "x");
  });
});
