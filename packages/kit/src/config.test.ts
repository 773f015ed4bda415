import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { envBool, envInt, envString, readServerConfig } from "./config.js";

describe("readServerConfig", () => {
  it("uses defaults for an empty environment", () => {
    assert.deepEqual(readServerConfig({}), {
      host: "0.0.0.0",
      port: 50051,
      shutdownGraceSeconds: 30,
      reflection: true,
      maxReceiveMessageBytes: 4 * 1024 * 1024,
      maxConnectionAgeMs: undefined,
    });
  });

  it("reads every variable", () => {
    const config = readServerConfig({
      HOST: "::1",
      PORT: "0",
      SHUTDOWN_GRACE_SECONDS: "5",
      GRPC_REFLECTION: "off",
      GRPC_MAX_RECEIVE_MESSAGE_BYTES: "1024",
      GRPC_MAX_CONNECTION_AGE_MS: "60000",
    });
    assert.deepEqual(config, {
      host: "::1",
      port: 0,
      shutdownGraceSeconds: 5,
      reflection: false,
      maxReceiveMessageBytes: 1024,
      maxConnectionAgeMs: 60000,
    });
  });

  it("turns reflection off by default in production, on when asked", () => {
    assert.equal(readServerConfig({ NODE_ENV: "production" }).reflection, false);
    assert.equal(readServerConfig({ NODE_ENV: "production", GRPC_REFLECTION: "true" }).reflection, true);
  });

  it("lets the service override defaults, and the environment override those", () => {
    assert.equal(readServerConfig({}, { port: 50052 }).port, 50052);
    assert.equal(readServerConfig({ PORT: "7000" }, { port: 50052 }).port, 7000);
  });

  it("names the variable and the bad value", () => {
    assert.throws(() => readServerConfig({ PORT: "abc" }), {
      message: 'PORT must be an integer between 0 and 65535, got "abc"',
    });
    assert.throws(() => readServerConfig({ PORT: "70000" }), /PORT must be an integer between 0 and 65535/);
    assert.throws(() => readServerConfig({ PORT: "80.5" }), /got "80.5"/);
    assert.throws(() => readServerConfig({ SHUTDOWN_GRACE_SECONDS: "-1" }), /SHUTDOWN_GRACE_SECONDS must be/);
    assert.throws(() => readServerConfig({ GRPC_REFLECTION: "maybe" }), {
      message: 'GRPC_REFLECTION must be a boolean (true/false, 1/0, yes/no, on/off), got "maybe"',
    });
    assert.throws(() => readServerConfig({ GRPC_MAX_CONNECTION_AGE_MS: "0" }), /GRPC_MAX_CONNECTION_AGE_MS must be/);
  });
});

describe("env readers", () => {
  it("envString requires a value without fallback and ignores blanks", () => {
    assert.equal(envString({ A: " x " }, "A"), "x");
    assert.equal(envString({ A: "  " }, "A", "d"), "d");
    assert.throws(() => envString({}, "A"), { message: "A must be set" });
  });

  it("envInt checks bounds", () => {
    assert.equal(envInt({ N: "-3" }, "N", 1), -3);
    assert.equal(envInt({}, "N", 1), 1);
    assert.throws(() => envInt({ N: "3" }, "N", 1, { min: 5 }), { message: 'N must be an integer >= 5, got "3"' });
    assert.throws(() => envInt({ N: "1e3" }, "N", 1), { message: 'N must be an integer, got "1e3"' });
  });

  it("envBool accepts the usual spellings", () => {
    for (const yes of ["1", "TRUE", "yes", "On"]) assert.equal(envBool({ B: yes }, "B", false), true);
    for (const no of ["0", "false", "NO", "off"]) assert.equal(envBool({ B: no }, "B", true), false);
    assert.equal(envBool({}, "B", true), true);
  });
});
