import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { credentials, status } from "@grpc/grpc-js";
import { dummyV1 } from "@obfy/protos";
import type { ServerInterceptor } from "../interceptor.js";
import { dummyClient, raises } from "./index.js";

/** The tutorial's ErrorLogger: reports every exception a handler raises, then lets it through. */
function createErrorLogger(logError: (error: unknown) => void): ServerInterceptor {
  return (next) => async (call) => {
    try {
      return await next(call);
    } catch (error) {
      logError(error);
      throw error;
    }
  };
}

describe("dummyClient", () => {
  it("tests an interceptor through a real server (the tutorial's ErrorLogger example)", async (t) => {
    let logged: unknown;
    const ex = new Error("boom");
    const client = await dummyClient({
      specialCases: { error: raises(ex) },
      interceptors: [createErrorLogger((error) => (logged = error))],
    });
    t.after(() => client.close());

    assert.equal((await client.execute("foo")).output, "foo");
    assert.equal(logged, undefined);

    await assert.rejects(client.execute("error"), { code: status.INTERNAL });
    assert.equal(logged, ex);
  });

  it("applies special cases in every RPC kind", async (t) => {
    const client = await dummyClient({ specialCases: { hi: () => ({ output: "HELLO" }) } });
    t.after(() => client.close());
    assert.equal((await client.execute("hi")).output, "HELLO");
    assert.equal((await client.executeServerStream("hi")).map((r) => r.output).join(""), "HELLO");
    assert.equal((await client.executeClientStream(["hi", "!"])).output, "HELLO!");
    assert.deepEqual(
      (await client.executeClientServerStream(["hi", "x"])).map((r) => r.output),
      ["HELLO", "x"],
    );
  });

  it("close() shuts the server down: the port no longer answers", async () => {
    const client = await dummyClient();
    await client.close();
    assert.equal(client.server.inFlight, 0);
    const stale = new dummyV1.DummyServiceClient(client.address, credentials.createInsecure());
    try {
      await assert.rejects(
        new Promise((resolve, reject) =>
          stale.execute({ input: "x" }, (error, response) => (error ? reject(error) : resolve(response))),
        ),
        { code: status.UNAVAILABLE },
      );
    } finally {
      stale.close();
    }
  });
});
