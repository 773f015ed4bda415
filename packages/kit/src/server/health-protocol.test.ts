import assert from "node:assert/strict";
import { once } from "node:events";
import { describe, it } from "node:test";
import { credentials, Server, ServerCredentials, type ServiceError, status } from "@grpc/grpc-js";
import { healthV1 } from "@obfy/protos";
import { KitHealth } from "./health.js";

const { SERVING, NOT_SERVING, SERVICE_UNKNOWN } = healthV1.HealthCheckResponse_ServingStatus;

// The wire answers grpc-health-check gives (the kit's KitHealth used to delegate to it), over a
// real socket: Check of an unknown name, Watch of one that appears later, and List.
describe("KitHealth on the wire", () => {
  it("answers Check, Watch and List as grpc-health-check does", async (t) => {
    const health = new KitHealth(["pkg.Service"]);
    const server = new Server();
    health.addToServer(server);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(error) : resolve(bound),
      ),
    );
    const client = new healthV1.HealthClient(`127.0.0.1:${port}`, credentials.createInsecure());
    t.after(() => {
      client.close();
      server.forceShutdown();
    });

    const error = await new Promise<ServiceError>((resolve, reject) =>
      client.check({ service: "no.such.Service" }, (err) => (err ? resolve(err) : reject(new Error("no error")))),
    );
    assert.equal(error.code, status.NOT_FOUND);
    assert.equal(error.details, "Health status unknown for service no.such.Service");

    const watch = client.watch({ service: "later.Service" });
    const seen: healthV1.HealthCheckResponse_ServingStatus[] = [];
    watch.on("data", (response: healthV1.HealthCheckResponse) => seen.push(response.status));
    watch.on("error", () => {});
    await once(watch, "data");
    health.setStatus("later.Service", "SERVING");
    await once(watch, "data");
    watch.cancel();
    assert.deepEqual(seen, [SERVICE_UNKNOWN, SERVING]);

    health.setStatus("pkg.Service", "SERVING");
    const listed = await new Promise<healthV1.HealthListResponse>((resolve, reject) =>
      client.list({}, (err, response) => (err ? reject(err) : resolve(response))),
    );
    assert.deepEqual(listed.statuses, {
      "": { status: NOT_SERVING },
      "pkg.Service": { status: SERVING },
      "later.Service": { status: SERVING },
    });
  });
});
