import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { readEventBusConfig } from "./config.js";
import { backoffDelayMs } from "./internal/backoff.js";

describe("readEventBusConfig", () => {
  it("defaults to pg-boss, which needs EVENT_BUS_DATABASE_URL", () => {
    assert.throws(() => readEventBusConfig({}), /EVENT_BUS_DATABASE_URL must be set when EVENT_BUS=postgres/);
    const config = readEventBusConfig({ EVENT_BUS_DATABASE_URL: "postgres://127.0.0.1/bus" });
    assert.equal(config.transport, "postgres");
    assert.equal(config.maxAttempts, 5);
    assert.equal(config.retryDelayMs, 1000);
    assert.equal(config.namespace, "");
  });

  it("reads RabbitMQ settings", () => {
    const config = readEventBusConfig({ EVENT_BUS: "amqp", AMQP_URL: "amqp://u:p@rabbit:5672/shop" });
    assert.equal(config.transport, "amqp");
    assert.equal(config.amqpUrl, "amqp://u:p@rabbit:5672/shop");
    assert.equal(config.busDatabaseUrl, undefined);
  });

  it("names the variable and the bad value", () => {
    assert.throws(
      () => readEventBusConfig({ EVENT_BUS: "kafka" }),
      /EVENT_BUS must be "postgres" or "amqp", got "kafka"/,
    );
    assert.throws(
      () => readEventBusConfig({ EVENT_BUS: "amqp", EVENT_BUS_MAX_ATTEMPTS: "0" }),
      /EVENT_BUS_MAX_ATTEMPTS must be an integer between 1 and 50, got "0"/,
    );
    assert.throws(
      () => readEventBusConfig({ EVENT_BUS: "amqp", EVENT_BUS_NAMESPACE: "a b" }),
      /EVENT_BUS_NAMESPACE may contain only/,
    );
    assert.throws(
      () =>
        readEventBusConfig({
          EVENT_BUS: "amqp",
          EVENT_BUS_RETRY_DELAY_MS: "5000",
          EVENT_BUS_RETRY_MAX_DELAY_MS: "100",
        }),
      /must not be less than EVENT_BUS_RETRY_DELAY_MS/,
    );
    assert.throws(
      () => readEventBusConfig({ EVENT_BUS: "amqp", EVENT_BUS_HEARTBEAT_SECONDS: "5" }),
      /EVENT_BUS_HEARTBEAT_SECONDS must be an integer between 10 and 3600/,
    );
  });
});

describe("backoffDelayMs", () => {
  it("doubles from the base, caps at the maximum, and draws in the upper half", () => {
    const low = () => 0;
    const high = () => 1;
    assert.deepEqual(
      [1, 2, 3, 4].map((failures) => backoffDelayMs(failures, 1000, 60_000, low)),
      [500, 1000, 2000, 4000],
    );
    assert.deepEqual(
      [1, 2, 3, 4].map((failures) => backoffDelayMs(failures, 1000, 60_000, high)),
      [1000, 2000, 4000, 8000],
    );
    assert.equal(backoffDelayMs(20, 1000, 60_000, high), 60_000);
    assert.equal(backoffDelayMs(200, 1000, 60_000, low), 30_000);
  });
});
