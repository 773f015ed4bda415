/**
 * Observability cost benchmark: unary throughput through a real kit server (the Dummy service's
 * Execute, a Recommend-sized echo) with no observability, then with each of metrics, logging and
 * tracing, then all of them, as the services run them.
 *
 * Load comes from h2load in its own process (gRPC framing by hand: one pre-encoded request),
 * 2 connections × 25 streams = concurrency 50 over loopback, 1 s warm-up then DURATION_S
 * seconds per variant (default 3), ROUNDS rounds (default 2) with the variants interleaved,
 * after one unreported warm-up run so the JIT is warm for the baseline too. Prints the best
 * req/s of each variant and its cost relative to the baseline. Not a test: numbers depend on
 * the machine and its load.
 *
 * Run: `node --conditions=source --import tsx bench/observability-cost.ts` (DURATION_S=5 ROUNDS=3 for steadier numbers).
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createGrpcServerTracingInterceptor,
  createMetrics,
  createServer,
  readServerConfig,
  type ServerInterceptor,
  setupTracing,
  traceLogMixin,
} from "@obfy/kit";
import { createDummyService } from "@obfy/kit/testing";
import { dummyV1 } from "@obfy/protos";
import type { ExportResult } from "@opentelemetry/core";
import type { ReadableSpan, SpanExporter } from "@opentelemetry/sdk-trace-node";
import pino from "pino";

const DURATION_S = Number(process.env.DURATION_S ?? 3);
// Best of ROUNDS, variants interleaved: on a shared machine the best run is the least disturbed one.
const ROUNDS = Number(process.env.ROUNDS ?? 2);
const CONNECTIONS = 2;
const STREAMS_PER_CONNECTION = 25;

/** Accepts spans and drops them: measures recording, not a collector's network. */
class DiscardingExporter implements SpanExporter {
  exported = 0;
  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    this.exported += spans.length;
    done({ code: 0 });
  }
  async shutdown(): Promise<void> {}
}

interface Variant {
  readonly name: string;
  readonly setup: () => { interceptors: ServerInterceptor[]; logger: pino.Logger; teardown: () => Promise<void> };
}

const silent = (): pino.Logger => pino({ level: "silent" });
// What production writes: one JSON line per call, synchronously, to a file descriptor.
const toDevNull = (mixin: boolean): pino.Logger =>
  pino(
    { level: "info", ...(mixin ? { mixin: traceLogMixin } : {}) },
    pino.destination({ dest: "/dev/null", sync: true }),
  );

const variants: readonly Variant[] = [
  { name: "baseline (logger silent)", setup: () => ({ interceptors: [], logger: silent(), teardown: async () => {} }) },
  {
    name: "metrics",
    setup: () => ({
      interceptors: [createMetrics().grpcServerInterceptor],
      logger: silent(),
      teardown: async () => {},
    }),
  },
  {
    name: "logging (1 line/call)",
    setup: () => ({ interceptors: [], logger: toDevNull(false), teardown: async () => {} }),
  },
  {
    name: "tracing, not exporting",
    setup: () => {
      const tracing = setupTracing({ serviceName: "bench", env: {} });
      return {
        interceptors: [createGrpcServerTracingInterceptor({ tracerProvider: tracing.provider })],
        logger: silent(),
        teardown: () => tracing.shutdown(),
      };
    },
  },
  {
    name: "tracing, recording every span",
    setup: () => {
      const tracing = setupTracing({ serviceName: "bench", exporter: new DiscardingExporter(), env: {} });
      return {
        interceptors: [createGrpcServerTracingInterceptor({ tracerProvider: tracing.provider })],
        logger: silent(),
        teardown: () => tracing.shutdown(),
      };
    },
  },
  {
    name: "all (tracing recording + metrics + logging with trace ids)",
    setup: () => {
      const tracing = setupTracing({ serviceName: "bench", exporter: new DiscardingExporter(), env: {} });
      return {
        interceptors: [
          createGrpcServerTracingInterceptor({ tracerProvider: tracing.provider }),
          createMetrics().grpcServerInterceptor,
        ],
        logger: toDevNull(true),
        teardown: () => tracing.shutdown(),
      };
    },
  },
];

function grpcFrame(message: Uint8Array): Buffer {
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt32BE(message.length, 1);
  Buffer.from(message).copy(frame, 5);
  return frame;
}

function runH2load(port: number, bodyPath: string): Promise<{ rps: number; failed: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      "h2load",
      [
        "-c",
        String(CONNECTIONS),
        "-m",
        String(STREAMS_PER_CONNECTION),
        "--warm-up-time=1",
        "-D",
        String(DURATION_S),
        "-d",
        bodyPath,
        "-H",
        "content-type: application/grpc",
        "-H",
        "te: trailers",
        `http://127.0.0.1:${port}/kit.testing.v1.DummyService/Execute`,
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString("utf8");
    });
    child.stderr.on("data", (chunk: Buffer) => {
      out += chunk.toString("utf8");
    });
    const killer = setTimeout(() => child.kill("SIGKILL"), (DURATION_S + 30) * 1000);
    child.on("error", reject);
    child.on("close", () => {
      clearTimeout(killer);
      const rps = /finished in [^,]+, ([\d.]+) req\/s/.exec(out)?.[1];
      const failed = /requests: .*?(\d+) failed/.exec(out)?.[1];
      if (rps === undefined) reject(new Error(`Could not read h2load output:\n${out}`));
      else resolve({ rps: Number(rps), failed: Number(failed ?? 0) });
    });
  });
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "obs-bench-"));
  const bodyPath = join(dir, "request.bin");
  writeFileSync(bodyPath, grpcFrame(dummyV1.DummyRequest.encode({ input: "mystery" }).finish()));
  const rows = variants.map((variant) => ({ name: variant.name, rps: 0, failed: 0 }));
  const measure = async (variant: Variant): Promise<{ rps: number; failed: number }> => {
    const { interceptors, logger, teardown } = variant.setup();
    const server = createServer({
      services: [createDummyService()],
      outerInterceptors: interceptors,
      logger,
      config: readServerConfig({}, { host: "127.0.0.1", port: 0, reflection: false, shutdownGraceSeconds: 1 }),
    });
    const { port } = await server.listen("127.0.0.1", 0);
    try {
      return await runH2load(port, bodyPath);
    } finally {
      await server.shutdown();
      await teardown();
    }
  };
  try {
    const [first] = variants;
    if (first) await measure(first);
    for (let round = 1; round <= ROUNDS; round++) {
      for (const [index, variant] of variants.entries()) {
        const result = await measure(variant);
        const row = rows[index];
        if (row && result.rps > row.rps) Object.assign(row, result);
        process.stderr.write(`round ${round}, ${variant.name}: ${result.rps.toFixed(0)} req/s\n`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const baseline = rows[0]?.rps ?? 1;
  const width = Math.max(...rows.map((r) => r.name.length));
  console.log(
    `\nObservability cost: unary Execute, concurrency ${CONNECTIONS * STREAMS_PER_CONNECTION}, best of ${ROUNDS} × ${DURATION_S} s per variant\n`,
  );
  console.log(`${"variant".padEnd(width)} | ${"req/s".padStart(8)} | ${"cost".padStart(7)} | failed`);
  console.log(`${"-".repeat(width)}-|-${"-".repeat(8)}-|-${"-".repeat(7)}-|-------`);
  for (const row of rows) {
    const cost = row === rows[0] ? "—" : `${(((baseline - row.rps) / baseline) * 100).toFixed(1)} %`;
    console.log(`${row.name.padEnd(width)} | ${row.rps.toFixed(0).padStart(8)} | ${cost.padStart(7)} | ${row.failed}`);
  }
}

await main();
