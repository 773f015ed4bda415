import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setImmediate as nextTurn } from "node:timers/promises";
import { Metadata } from "@grpc/grpc-js";
import { context, trace } from "@opentelemetry/api";
import { currentContext } from "../context.js";
import type { ServerInterceptor } from "../interceptor.js";
import { dummyClient } from "../testing/index.js";
import { createGrpcServerTracingInterceptor } from "./grpc-tracing.js";
import { setupTracing } from "./tracing.js";

/** What the handler saw after an await: the call context and the active trace id, from implicit context only. */
async function seenInHandler(outerInterceptors: readonly ServerInterceptor[]): Promise<{
  requestId: string | undefined;
  traceId: string | undefined;
  sentRequestId: string;
}> {
  const client = await dummyClient({
    outerInterceptors,
    specialCases: {
      probe: async () => {
        // Past a promise and a macrotask, as a handler calling another service would be.
        await nextTurn();
        const call = currentContext();
        const span = trace.getSpanContext(context.active());
        return { output: JSON.stringify({ requestId: call?.requestId, traceId: span?.traceId }) };
      },
    },
  });
  try {
    const metadata = new Metadata();
    metadata.set("x-request-id", "carrier-test-1");
    const { output } = await client.execute("probe", { metadata });
    return { ...(JSON.parse(output) as { requestId?: string; traceId?: string }), sentRequestId: "carrier-test-1" } as {
      requestId: string | undefined;
      traceId: string | undefined;
      sentRequestId: string;
    };
  } finally {
    await client.close();
  }
}

describe("the call context and the trace context reach the handler, whatever the interceptor order", () => {
  it("tracing outermost: currentContext() and the trace both reach the handler across awaits", async (t) => {
    const tracing = setupTracing({ serviceName: "carrier", env: {} });
    t.after(() => tracing.shutdown());
    const interceptor = createGrpcServerTracingInterceptor({ tracerProvider: tracing.provider });
    const seen = await seenInHandler([interceptor]);
    assert.equal(seen.requestId, seen.sentRequestId);
    assert.match(seen.traceId ?? "", /^[0-9a-f]{32}$/);
  });

  it("tracing not outermost: the same", async (t) => {
    const tracing = setupTracing({ serviceName: "carrier-inner", env: {} });
    t.after(() => tracing.shutdown());
    const passThrough: ServerInterceptor = (next) => (call) => next(call);
    const seen = await seenInHandler([
      passThrough,
      createGrpcServerTracingInterceptor({ tracerProvider: tracing.provider }),
    ]);
    assert.equal(seen.requestId, seen.sentRequestId);
    assert.match(seen.traceId ?? "", /^[0-9a-f]{32}$/);
  });

  it("with no OpenTelemetry context manager (tracing shut down): currentContext() still works", async () => {
    const tracing = setupTracing({ serviceName: "carrier-gone", env: {} });
    const interceptor = createGrpcServerTracingInterceptor({ tracerProvider: tracing.provider });
    // Shutting tracing down unregisters its AsyncLocalStorage context manager.
    await tracing.shutdown();
    const seen = await seenInHandler([interceptor]);
    assert.equal(seen.requestId, seen.sentRequestId);
  });
});
