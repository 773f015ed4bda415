import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { credentials, type ServiceError, status } from "@grpc/grpc-js";
import { healthV1 } from "@obfy/protos";
import pino from "pino";
import { readServerConfig } from "../config.js";
import { createDummyService } from "../testing/index.js";
import { createServer } from "./create-server.js";

const { SERVING, NOT_SERVING } = healthV1.HealthCheckResponse_ServingStatus;

function check(client: healthV1.HealthClient, service: string): Promise<healthV1.HealthCheckResponse_ServingStatus> {
  return new Promise((resolve, reject) => {
    client.check({ service }, (error, response) => (error ? reject(error) : resolve(response.status)));
  });
}

describe("health", () => {
  it("is NOT_SERVING until listening and ready, SERVING after, and tells watchers about the drain", async (t) => {
    const server = createServer({
      services: [createDummyService()],
      config: readServerConfig({}, { host: "127.0.0.1", port: 0, shutdownGraceSeconds: 5 }),
      logger: pino({ level: "silent" }),
      readiness: "manual",
    });
    t.after(() => server.shutdown());
    assert.equal(server.health.getStatus(""), "NOT_SERVING");
    const { port } = await server.listen();
    const client = new healthV1.HealthClient(`127.0.0.1:${port}`, credentials.createInsecure());
    t.after(() => client.close());

    assert.equal(await check(client, ""), NOT_SERVING);
    assert.equal(await check(client, "kit.testing.v1.DummyService"), NOT_SERVING);
    await assert.rejects(check(client, "no.such.Service"), { code: status.NOT_FOUND });

    const watch = client.watch({ service: "kit.testing.v1.DummyService" });
    const seen: healthV1.HealthCheckResponse_ServingStatus[] = [];
    const ended = new Promise<ServiceError>((resolve) => watch.on("error", resolve));
    let onUpdate: () => void = () => {};
    watch.on("data", (response: healthV1.HealthCheckResponse) => {
      seen.push(response.status);
      onUpdate();
    });
    const waitFor = (count: number): Promise<void> =>
      new Promise((resolve) => {
        onUpdate = () => {
          if (seen.length >= count) resolve();
        };
        onUpdate();
      });

    await waitFor(1);
    server.setReady();
    await waitFor(2);
    assert.equal(await check(client, ""), SERVING);
    assert.equal(await check(client, "kit.testing.v1.DummyService"), SERVING);

    const shutdown = server.shutdown();
    await waitFor(3);
    assert.deepEqual(seen, [NOT_SERVING, SERVING, NOT_SERVING]);
    const error = await ended;
    assert.equal(error.code, status.UNAVAILABLE);
    assert.equal(error.details, "Server is shutting down");
    await shutdown;
  });

  it("turns SERVING on listen by default", async (t) => {
    const server = createServer({
      services: [createDummyService()],
      config: readServerConfig({}, { host: "127.0.0.1", port: 0 }),
      logger: pino({ level: "silent" }),
    });
    t.after(() => server.shutdown());
    const { port } = await server.listen();
    const client = new healthV1.HealthClient(`127.0.0.1:${port}`, credentials.createInsecure());
    t.after(() => client.close());
    assert.equal(await check(client, ""), SERVING);
  });
});
