import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { credentials, Metadata, type ServiceError, status } from "@grpc/grpc-js";
import { dummyV1 } from "@obfy/protos";
import { startChildServer } from "./fixtures/child-server.js";

const fixture = fileURLToPath(new URL("./fixtures/signal-server.ts", import.meta.url));

function execute(client: dummyV1.DummyServiceClient, input: string, deadlineMs = 20_000): Promise<string> {
  return new Promise((resolve, reject) => {
    client.execute({ input }, new Metadata(), { deadline: Date.now() + deadlineMs }, (error, response) =>
      error ? reject(error) : resolve(response.output),
    );
  });
}

describe("runUntilSignalled in a real process", () => {
  it("on SIGTERM finishes in-flight calls, refuses new connections, shrugs off a second SIGTERM, exits 0", async (t) => {
    const server = await startChildServer(fixture, { SHUTDOWN_GRACE_SECONDS: "20" });
    t.after(() => server.kill());
    const address = `127.0.0.1:${server.port}`;
    const client = new dummyV1.DummyServiceClient(address, credentials.createInsecure());
    t.after(() => client.close());

    assert.equal(await execute(client, "warm-up"), "warm-up");
    const inFlight = [execute(client, "sleep:1500"), execute(client, "sleep:1500"), execute(client, "sleep:1500")];
    // Every handler has started before the signal arrives.
    await server.waitForLine(() => server.lines.filter((line) => line.msg === "handler started").length === 3);

    assert.ok(server.child.kill("SIGTERM"));
    await server.waitForLine((line) => line.msg === "Shutting down: draining in-flight calls");

    // A new client cannot connect while the old calls drain.
    const late = new dummyV1.DummyServiceClient(address, credentials.createInsecure());
    t.after(() => late.close());
    await assert.rejects(execute(late, "too late", 5000), (error: ServiceError) => {
      assert.equal(error.code, status.UNAVAILABLE);
      return true;
    });

    assert.ok(server.child.kill("SIGTERM"));
    await server.waitForLine((line) => String(line.msg).startsWith("Already shutting down"));

    assert.deepEqual(await Promise.all(inFlight), ["slept 1500", "slept 1500", "slept 1500"]);
    assert.equal(await server.exited, 0);
    assert.ok(server.lines.some((line) => line.msg === "Shut down gracefully"));
  });

  it("ends a stream that outlives SHUTDOWN_GRACE_SECONDS with UNAVAILABLE and still exits 0", async (t) => {
    const server = await startChildServer(fixture, { SHUTDOWN_GRACE_SECONDS: "1" });
    t.after(() => server.kill());
    const client = new dummyV1.DummyServiceClient(`127.0.0.1:${server.port}`, credentials.createInsecure());
    t.after(() => client.close());

    const stream = client.executeServerStream({ input: "forever" });
    let received = 0;
    const ended = new Promise<ServiceError | "ended">((resolve) => {
      stream.on("data", () => {
        received++;
      });
      stream.on("error", resolve);
      stream.on("end", () => resolve("ended"));
    });
    await server.waitForLine((line) => line.msg === "handler started");

    const signalledAt = Date.now();
    assert.ok(server.child.kill("SIGTERM"));
    const outcome = await ended;
    assert.notEqual(outcome, "ended");
    assert.equal((outcome as ServiceError).code, status.UNAVAILABLE);
    assert.equal((outcome as ServiceError).details, "Server is shutting down");
    assert.ok(received > 0);
    // It ran until the grace period was over, not longer than a few seconds.
    const elapsed = Date.now() - signalledAt;
    assert.ok(elapsed >= 900 && elapsed < 10_000, `stream ended after ${elapsed} ms`);
    assert.equal(await server.exited, 0);
  });
});
