import assert from "node:assert/strict";
import { lookup } from "node:dns/promises";
import { describe, it } from "node:test";
import { dummyV1 } from "@obfy/protos";
import { createClient } from "./create-client.js";
import { dummyServer, listen, type PlainServer, silentLogger } from "./fixtures/plain-servers.js";

const CALLS = 20;

/** A Dummy server whose Execute counts the calls it answers. */
async function countingServer(host: string, port = 0): Promise<PlainServer & { calls: () => number }> {
  let calls = 0;
  const server = await listen(
    dummyServer({
      execute: (call, callback) => {
        calls += 1;
        callback(null, { output: call.request.input });
      },
    }),
    host,
    port,
  );
  return { ...server, calls: () => calls };
}

describe("load balancing", () => {
  it("spreads calls over every address of an ipv4: target (round_robin)", async (t) => {
    const first = await countingServer("127.0.0.1");
    t.after(() => first.close());
    const second = await countingServer("127.0.0.1");
    t.after(() => second.close());

    const client = createClient(dummyV1.DummyServiceService, `ipv4:127.0.0.1:${first.port},127.0.0.1:${second.port}`, {
      logger: silentLogger(),
    });
    t.after(() => client.close());
    for (let i = 0; i < CALLS; i++) await client.execute({ input: String(i) }, { timeoutMs: 5000 });

    assert.equal(first.calls() + second.calls(), CALLS);
    assert.ok(first.calls() > 0, `first server got ${first.calls()} of ${CALLS} calls`);
    assert.ok(second.calls() > 0, `second server got ${second.calls()} of ${CALLS} calls`);
  });

  it("with pick_first, sends every call to one address (the control for the test above)", async (t) => {
    const first = await countingServer("127.0.0.1");
    t.after(() => first.close());
    const second = await countingServer("127.0.0.1");
    t.after(() => second.close());

    const client = createClient(dummyV1.DummyServiceService, `ipv4:127.0.0.1:${first.port},127.0.0.1:${second.port}`, {
      logger: silentLogger(),
      loadBalancing: "pick_first",
    });
    t.after(() => client.close());
    for (let i = 0; i < CALLS; i++) await client.execute({ input: String(i) }, { timeoutMs: 5000 });
    assert.deepEqual([first.calls(), second.calls()].sort(), [0, CALLS]);
  });

  it("spreads calls over the IPv4 and IPv6 addresses of dns:///localhost", async (t) => {
    const addresses = await lookup("localhost", { all: true });
    const families = new Set(addresses.map((a) => a.family));
    if (!families.has(4) || !families.has(6)) {
      t.skip(
        `localhost resolves to ${addresses.map((a) => a.address).join(", ")} only on this machine; ` +
          "this test needs both 127.0.0.1 and ::1 (add '::1 localhost' to /etc/hosts)",
      );
      return;
    }
    const v4 = await countingServer("127.0.0.1");
    t.after(() => v4.close());
    // Same port on ::1, so one dns:///localhost:port target names both servers.
    const v6 = await countingServer("::1", v4.port);
    t.after(() => v6.close());

    const client = createClient(dummyV1.DummyServiceService, `dns:///localhost:${v4.port}`, { logger: silentLogger() });
    t.after(() => client.close());
    for (let i = 0; i < CALLS; i++) await client.execute({ input: String(i) }, { timeoutMs: 5000 });
    assert.equal(v4.calls() + v6.calls(), CALLS);
    assert.ok(v4.calls() > 0 && v6.calls() > 0, `127.0.0.1 got ${v4.calls()}, ::1 got ${v6.calls()}`);
  });

  it("resolves a dns:/// target", async (t) => {
    const server = await countingServer("127.0.0.1");
    t.after(() => server.close());
    const client = createClient(dummyV1.DummyServiceService, `dns:///127.0.0.1:${server.port}`, {
      logger: silentLogger(),
    });
    t.after(() => client.close());
    assert.deepEqual(await client.execute({ input: "dns" }), { output: "dns" });
    assert.equal(server.calls(), 1);
  });
});
