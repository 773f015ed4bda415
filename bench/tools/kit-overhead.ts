/**
 * What the kit's server layers cost per unary call, without HTTP/2 or grpc-js in the way: the
 * grpc-js handler that `createServer` registers for v1 Recommend is called directly with a
 * stand-in call object (request, metadata, deadline, peer, `sendMetadata`, the `cancelled`
 * event), in batches of 400 concurrent calls like the h2load runs, and its CPU time per call is
 * compared with a bare grpc-js-style handler around the same Recommend logic. Each variant runs
 * in its own process (AsyncLocalStorage, once enabled, taxes everything after it), rounds
 * alternated. Far steadier than the h2load figures on a shared machine, but it leaves out what
 * the layers cost inside grpc-js and node:http2 (the response header, async hooks on their
 * promises and ticks), so confirm a gain end to end (bench/tools/h2-compare.ts, `npm run bench`).
 *
 * `node --conditions=source --import tsx bench/tools/kit-overhead.ts > /dev/null` (the call log
 * lines go to stdout; results to stderr). VARIANTS (bare,adapter,logging,kit,service), ROUNDS (5),
 * CALLS per round (200000).
 */
import { spawnSync } from "node:child_process";
import { EventEmitter } from "node:events";
import { fileURLToPath } from "node:url";
import { Metadata, type sendUnaryData } from "@grpc/grpc-js";
import {
  createGrpcServerTracingInterceptor,
  createLogger,
  createMetrics,
  createServer,
  defineService,
  InvalidArgument,
  type KitServer,
  readServerConfig,
  setupTracing,
  traceLogMixin,
} from "@obfy/kit";
import { recommendationsV1 } from "@obfy/protos";
import { createRecommendationsServer, DEFAULT_BOOKS_FILE, loadCatalog } from "@obfy/recommendations";
import { recommendV1 } from "../fixtures/recommend-logic.js";

const PATH = "/bookstore.recommendations.v1.RecommendationsService/Recommend";
const BATCH = 400;
type Handler = (call: FakeCall, callback: sendUnaryData<unknown>) => void;

/** The parts of a grpc-js ServerUnaryCall the kit reads. */
class FakeCall extends EventEmitter {
  readonly request: recommendationsV1.RecommendRequest;
  readonly metadata = new Metadata();
  cancelled = false;
  constructor(request: recommendationsV1.RecommendRequest) {
    super();
    this.request = request;
  }
  getDeadline(): number {
    return Number.POSITIVE_INFINITY;
  }
  getPeer(): string {
    return "127.0.0.1:50000";
  }
  sendMetadata(metadata: Metadata): void {
    metadata.toHttp2Headers();
  }
}

function handlerOf(server: KitServer): Handler {
  const handlers = (server.raw as unknown as { handlers: Map<string, { func: Handler }> }).handlers;
  const entry = handlers.get(PATH);
  if (!entry) throw new Error(`no handler for ${PATH}`);
  return entry.func;
}

function build(variant: string): Handler {
  const config = readServerConfig({ NODE_ENV: "production" }, { host: "127.0.0.1", port: 0 });
  const definition = defineService(recommendationsV1.RecommendationsServiceService, {
    recommend(request) {
      const response = recommendV1(request);
      if (!response) throw new InvalidArgument("bad request");
      return response;
    },
  });
  switch (variant) {
    case "bare":
      return (call, callback) => {
        const response = recommendV1(call.request);
        if (response) callback(null, response);
        else callback({ code: 3, details: "bad request" });
      };
    case "adapter":
    case "logging":
      return handlerOf(
        createServer({
          services: [definition],
          logger: createLogger({ name: "recommendations", level: variant === "adapter" ? "warn" : "info" }),
          config,
        }),
      );
    case "kit": {
      const tracing = setupTracing({ serviceName: "recommendations", env: {} });
      const metrics = createMetrics();
      return handlerOf(
        createServer({
          services: [definition],
          outerInterceptors: [
            createGrpcServerTracingInterceptor({ tracerProvider: tracing.provider }),
            metrics.grpcServerInterceptor,
          ],
          logger: createLogger({ name: "recommendations", mixin: traceLogMixin }),
          config,
        }),
      );
    }
    case "service": {
      const tracing = setupTracing({ serviceName: "recommendations", env: {} });
      const metrics = createMetrics();
      return handlerOf(
        createRecommendationsServer({
          catalog: loadCatalog(DEFAULT_BOOKS_FILE),
          logger: createLogger({ name: "recommendations", mixin: traceLogMixin }),
          config,
          outerInterceptors: [
            createGrpcServerTracingInterceptor({ tracerProvider: tracing.provider }),
            metrics.grpcServerInterceptor,
          ],
          interceptors: [],
        }),
      );
    }
    default:
      throw new Error(`unknown variant ${variant}`);
  }
}

async function measure(variant: string, calls: number): Promise<number> {
  const handler = build(variant);
  const request = recommendationsV1.RecommendRequest.fromPartial({
    userId: 1,
    category: recommendationsV1.BookCategory.BOOK_CATEGORY_SCIENCE_FICTION,
    maxResults: 3,
  });
  const batch = async (): Promise<void> => {
    let left = BATCH;
    await new Promise<void>((resolve, reject) => {
      const callback: sendUnaryData<unknown> = (error) => {
        if (error) reject(new Error(`call failed: ${String(error.details ?? error)}`));
        else if (--left === 0) resolve();
      };
      for (let i = 0; i < BATCH; i++) {
        const call = new FakeCall(request);
        handler(call, callback);
        // grpc-js emits 'cancelled' on every finished call too (the kit ignores it then).
        setImmediate(() => call.emit("cancelled", "cancelled"));
      }
    });
  };
  for (let i = 0; i < 50; i++) await batch();
  const rounds = Math.ceil(calls / BATCH);
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < rounds; i++) await batch();
  const cpu = process.cpuUsage(cpu0);
  return (cpu.user + cpu.system) / (rounds * BATCH);
}

const child = process.env.KIT_OVERHEAD_VARIANT;
if (child !== undefined) {
  const us = await measure(child, Number(process.env.CALLS ?? 200_000));
  process.stderr.write(`${JSON.stringify({ us })}\n`);
  process.exit(0);
} else {
  const variants = (process.env.VARIANTS ?? "bare,adapter,logging,kit,service").split(",");
  const rounds = Number(process.env.ROUNDS ?? 5);
  const results = new Map<string, number[]>();
  const self = fileURLToPath(import.meta.url);
  for (let round = 0; round < rounds; round++) {
    for (const variant of variants) {
      const run = spawnSync(process.execPath, [...process.execArgv, self], {
        env: { ...process.env, KIT_OVERHEAD_VARIANT: variant },
        stdio: ["ignore", "ignore", "pipe"],
        encoding: "utf8",
      });
      const line = run.stderr.trim().split("\n").pop() ?? "";
      let us: number;
      try {
        us = (JSON.parse(line) as { us: number }).us;
      } catch {
        throw new Error(`${variant} failed: ${run.stderr.slice(-2000)}`);
      }
      results.set(variant, [...(results.get(variant) ?? []), us]);
      process.stderr.write(`${variant}: ${us.toFixed(2)} µs/call\n`);
    }
  }
  const median = (v: number[]): number => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] as number;
  const bare = median(results.get("bare") ?? [0]);
  for (const [variant, values] of results) {
    const m = median(values);
    process.stderr.write(
      `${variant.padEnd(8)} median ${m.toFixed(2)} µs/call, min ${Math.min(...values).toFixed(2)}; over bare ${(m - bare).toFixed(2)} µs\n`,
    );
  }
}
