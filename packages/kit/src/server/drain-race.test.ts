// What a client sees when it sends a call at the very moment a server starts draining, over real
// sockets: two servers behind one round_robin channel, calls in a tight loop, one server drained.
//
// The drain sends ONE GOAWAY naming the last stream the server has seen (grpc-js tryShutdown ->
// Node session.close()). A call the client sent a moment before it read that GOAWAY has a higher
// stream id: the server ignores it, and the client fails it with REFUSED_STREAM, which RFC 9113
// §8.7 defines as "not processed, safe to retry" and grpc-js retries transparently. A two-phase
// GOAWAY (2^31-1 first, as gRPC-Go does) would let the server serve those calls instead, but
// nghttp2, under Node's http2, ignores every new stream once it has sent any GOAWAY, so on Node the
// first GOAWAY already refuses them. What matters, and what these tests pin down: a drain never
// resets a connection under a call (no ECONNRESET, no "Connection dropped"), so nothing the drain
// does is ever unretryable.
//
// grpc-js words a refused stream two ways, with the same status (UNAVAILABLE, RST_STREAM code
// REFUSED_STREAM, retried transparently: its trace shows "progress REFUSED" for both). When the
// RST_STREAM arrives while the request message is still being written, Node 26 fails that write's
// callback with the stream's error before the stream's 'close', so grpc-js ends the call from the
// write callback ("Write error: Stream closed with error code NGHTTP2_REFUSED_STREAM"); Node 20
// called the pending callback without an error after 'close', and only "Stream refused by server"
// was seen. (A 200 KB write into a stream the server refuses shows the two orders.)
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { dummyV1 } from "@obfy/protos";
import type { ClientOptions } from "../client/client-options.js";
import { createClient } from "../client/create-client.js";
import { createLogger } from "../logger.js";
import { createDummyService } from "../testing/dummy-client.js";
import { createServer, type KitServer } from "./create-server.js";

const silent = createLogger({ name: "drain-race-test", level: "silent" });
/** Each test: at most this many drains, and no new one after this long. */
const MAX_DRAINS = 25;
const MAX_MS = 6000;
const WORKERS = 8;
/** The two ways grpc-js reports a stream the server refused (see above), as `code details`. */
const REFUSED_STREAM = new Set([
  "14 Stream refused by server",
  "14 Write error: Stream closed with error code NGHTTP2_REFUSED_STREAM",
]);

interface DrainRun {
  ok: number;
  /** Failed calls by `code details`. */
  failures: Map<string, number>;
  drains: number;
}

async function startDummy(): Promise<{ server: KitServer; port: number }> {
  const server = createServer({ services: [createDummyService()], logger: silent });
  const { port } = await server.listen("127.0.0.1", 0);
  return { server, port };
}

/**
 * Repeatedly: a fresh server to drain plus the long-lived `stable` one behind one client, calls
 * from {@link WORKERS} loops, then the drain. Bounded by {@link MAX_DRAINS} and {@link MAX_MS}.
 */
async function drainUnderLoad(clientOptions: ClientOptions<typeof dummyV1.DummyServiceService>): Promise<DrainRun> {
  const run: DrainRun = { ok: 0, failures: new Map(), drains: 0 };
  const stable = await startDummy();
  const started = Date.now();
  try {
    while (run.drains < MAX_DRAINS && Date.now() - started < MAX_MS) {
      const draining = await startDummy();
      const client = createClient(
        dummyV1.DummyServiceService,
        `ipv4:127.0.0.1:${draining.port},127.0.0.1:${stable.port}`,
        { logger: silent, defaultTimeoutMs: 5000, ...clientOptions },
      );
      let stop = false;
      const worker = async (): Promise<void> => {
        while (!stop) {
          try {
            await client.execute(dummyV1.DummyRequest.fromPartial({ input: "x" }));
            run.ok++;
          } catch (error) {
            const e = error as { code?: number; details?: string };
            const key = `${e.code} ${e.details}`;
            run.failures.set(key, (run.failures.get(key) ?? 0) + 1);
          }
        }
      };
      try {
        await client.waitForReady(Date.now() + 5000);
        const workers = Array.from({ length: WORKERS }, worker);
        // Let calls spread over both servers, then drain one while they keep coming.
        await delay(20);
        await draining.server.shutdown();
        stop = true;
        await Promise.all(workers);
      } finally {
        stop = true;
        client.close();
        await draining.server.shutdown();
      }
      run.drains++;
    }
  } finally {
    await stable.server.shutdown();
  }
  return run;
}

describe("a server draining under a steady stream of calls", () => {
  it("refuses the calls it has not seen with REFUSED_STREAM, and never resets a connection under a call", async (t) => {
    // Retries off, so whatever the drain does to a call is what the caller sees.
    const run = await drainUnderLoad({ retry: false, channelOptions: { "grpc.enable_retries": 0 } });
    t.diagnostic(`${run.drains} drains, ${run.ok} calls served, failures: ${JSON.stringify([...run.failures])}`);
    assert.ok(run.drains >= 3, `only ${run.drains} drains ran`);
    assert.ok(run.ok > 0);
    const unexpected = [...run.failures].filter(([key]) => !REFUSED_STREAM.has(key));
    assert.deepEqual(unexpected, [], `failures other than REFUSED_STREAM after ${run.drains} drains`);
  });

  it("with the kit client's default retries, no call fails", async (t) => {
    const run = await drainUnderLoad({ retryableMethods: ["execute"] });
    t.diagnostic(`${run.drains} drains, ${run.ok} calls served`);
    assert.ok(run.drains >= 3, `only ${run.drains} drains ran`);
    assert.ok(run.ok > 0);
    assert.deepEqual([...run.failures], [], `failed calls after ${run.drains} drains (${run.ok} served)`);
  });
});
