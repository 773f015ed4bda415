/**
 * The benchmark suite behind `npm run bench`. Starts real processes on loopback, pins the
 * systems under test to core 0 and load generators to core 1, and writes
 * bench/results/results.{md,json} plus SVG charts. Every load run is bounded in time and count.
 *
 * BENCH_QUICK=1 runs a ~1 minute smoke version (short windows, one round).
 * BENCH_RUNTIME=dist|source forces how the services run (default: dist when it is fresh).
 *
 * Sections: codec, Recommend throughput (closed loop) and latency at fixed rates (open loop) on
 * the v1 and legacy APIs for the full service vs a bare grpc-js server, the h2load ceiling,
 * the Marketplace homepage, memory, start-up, and multi-process scaling. A section that fails is
 * recorded as failed and the suite carries on.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { UNAVAILABLE_NOTICE } from "@obfy/marketplace";
import { recommendationsV1 } from "@obfy/protos";
import { type CodecResult, codecMarkdown } from "./codec.js";
import type { LoadConfig, LoadResult } from "./fixtures/grpc-load.js";
import { groupedBars, horizontalBars, latencyLines, writeChart } from "./lib/charts.js";
import { grpcFrame, grpcStatusOf, h2loadAvailable, runH2load, writeFrameFile } from "./lib/h2load.js";
import { median } from "./lib/micro.js";
import {
  detectPinning,
  freePort,
  killAll,
  type Managed,
  repoRoot,
  rssBytes,
  sampleRss,
  serviceCommand,
  start,
  startTs,
  treeCpuSeconds,
  waitForHttp200,
  waitForServing,
  waitForTcp,
} from "./lib/procs.js";

const quick = process.env.BENCH_QUICK === "1";
const P = quick
  ? {
      codec: { rounds: 3, roundMs: 100, warmupMs: 100 },
      startups: 1,
      throughputRounds: 1,
      warmupMs: 500,
      closedMs: 2000,
      openMs: 2000,
      rates: [0.25, 0.5, 0.75],
      h2loadSeconds: 2,
      httpSeconds: 3,
      scalingSeconds: 3,
    }
  : {
      codec: { rounds: 5, roundMs: 200, warmupMs: 200 },
      startups: 3,
      throughputRounds: 2,
      warmupMs: 1000,
      closedMs: 3000,
      openMs: 4000,
      rates: [0.25, 0.5, 0.75],
      h2loadSeconds: 5,
      httpSeconds: 5,
      scalingSeconds: 5,
    };
/** Hard cap on calls per load run: far above what one core can do in the window, so time is the usual bound. */
const MAX_REQUESTS = 2_000_000;
const CONNECTIONS = 4;
const CLOSED_CONCURRENCY = 100;
const OPEN_OUTSTANDING_CAP = 5000;
const V1_PATH = "/bookstore.recommendations.v1.RecommendationsService/Recommend";
const resultsDir = join(repoRoot, "bench", "results");

/** One pre-encoded v1 RecommendRequest as a gRPC frame, for h2load (written once, removed on exit). */
const frameDir = mkdtempSync(join(tmpdir(), "obfy-bench-"));
const v1Frame = grpcFrame(
  recommendationsV1.RecommendRequest.encode({
    userId: 1,
    category: recommendationsV1.BookCategory.BOOK_CATEGORY_SCIENCE_FICTION,
    maxResults: 3,
  }).finish(),
);
const v1BodyFile = writeFrameFile(frameDir, "recommend-request.grpc", v1Frame);
process.on("exit", () => rmSync(frameDir, { recursive: true, force: true }));

const cores = availableParallelism();
const pinning = detectPinning(cores);
process.on("exit", killAll);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    killAll();
    process.exit(130);
  });
}

const log = (message: string): void => {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
};

// ---------------------------------------------------------------------------------------------
// Result shapes

/**
 * The three Recommendations servers compared: `bare` grpc-js with the service's logic and
 * nothing else; `kit`, the kit's full production stack (JSON log line per call, metrics,
 * tracing without exporter) around the same logic; `service`, the real service's main as
 * deployed today.
 */
type ServerKind = "bare" | "kit" | "service";
const SERVER_LABEL: Record<ServerKind, string> = {
  bare: "bare grpc-js",
  kit: "kit full stack",
  service: "Recommendations service",
};

interface ThroughputRow {
  readonly api: "v1" | "legacy";
  readonly server: ServerKind;
  /** Median OK calls per second over the rounds. */
  readonly throughput: number;
  /** Median server CPU (cores) while loaded. */
  readonly serverCpu: number;
  /** Median load-generator CPU (cores). */
  readonly loadCpu: number;
  /** OK calls per server CPU-second: the efficiency that survives a client-bound run. */
  readonly perCpuSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly errors: number;
  readonly rounds: readonly number[];
}

interface LatencyRow {
  readonly series: string;
  readonly api: "v1" | "legacy";
  readonly server: ServerKind;
  readonly fraction: number;
  readonly rate: number;
  readonly achieved: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly errors: number;
  readonly dropped: number;
  readonly sendLagP99Ms: number;
  readonly serverCpu: number;
}

interface H2loadRow {
  readonly server: ServerKind;
  readonly requestsPerSec: number;
  readonly failed: number;
  readonly errored: number;
  readonly meanMs: number | undefined;
  readonly serverCpu: number;
}

interface Target {
  readonly name: string;
  readonly target: string;
  readonly measured: string;
  readonly pass: boolean | undefined;
}

interface Results {
  meta: Record<string, unknown>;
  sections: Record<string, { ok: boolean; error?: string; seconds: number }>;
  codec?: CodecResult;
  startup: { recommendationsMs?: number[]; marketplaceMs?: number[]; recommendationsTcpMs?: number[] };
  memory: Record<string, { idleMb?: number; loadedMb?: number }>;
  throughput: ThroughputRow[];
  latency: LatencyRow[];
  h2load: H2loadRow[];
  marketplace?: {
    max: HttpResult;
    halfRate: HttpResult & { rate: number };
  };
  scaling: { workers: number; requestsPerSec: number; serverCpu: number; tool: string }[];
  /** Server CPU µs per OK call with the per-call info line and without it (LOG_LEVEL=warn). */
  logging?: { infoUsPerCall: number; warnUsPerCall: number; shareOfCall: number };
  targets: Target[];
}

interface HttpResult {
  readonly requestsPerSec: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly timeouts: number;
  readonly serverCpu: number;
}

const results: Results = {
  meta: {},
  sections: {},
  startup: {},
  memory: {},
  throughput: [],
  latency: [],
  h2load: [],
  scaling: [],
  targets: [],
};

async function section(name: string, body: () => Promise<void>): Promise<void> {
  const began = performance.now();
  log(`${name}…`);
  try {
    await body();
    results.sections[name] = { ok: true, seconds: (performance.now() - began) / 1000 };
  } catch (error) {
    // One line: it goes into a Markdown table.
    const message = (error instanceof Error ? error.message : String(error)).replace(/\s+/g, " ").trim().slice(0, 400);
    log(`${name} FAILED: ${message}`);
    results.sections[name] = { ok: false, error: message, seconds: (performance.now() - began) / 1000 };
  }
}

const mb = (bytes: number): number => Math.round((bytes / 1024 / 1024) * 10) / 10;
const ms = (us: number): number => Math.round(us) / 1000;

// ---------------------------------------------------------------------------------------------
// Process helpers

interface RunningService {
  readonly process: Managed;
  readonly port: number;
}

/** Starts the real Recommendations main (production settings) on core 0 and times spawn → SERVING. */
async function startRecommendations(
  extraEnv: Record<string, string> = {},
): Promise<RunningService & { servingMs: number; tcpMs: number }> {
  const port = await freePort();
  const cmd = serviceCommand("recommendations");
  const began = performance.now();
  const proc = start(cmd.command, cmd.args, {
    prefix: pinning.server,
    stdout: "null",
    env: {
      PORT: String(port),
      HOST: "127.0.0.1",
      NODE_ENV: "production",
      LOG_FORMAT: "json",
      LOG_LEVEL: "info",
      // Loopback only, and a free port each: two instances run side by side in the suite.
      METRICS_HOST: "127.0.0.1",
      METRICS_PORT: "0",
      ...extraEnv,
    },
  });
  try {
    await waitForTcp(port, 20_000, proc.exited);
    const tcpMs = performance.now() - began;
    await waitForServing(port, 20_000);
    return { process: proc, port, servingMs: performance.now() - began, tcpMs };
  } catch (error) {
    await proc.stop();
    // Its logs went to /dev/null; stderr may still say why.
    throw new Error(
      `Recommendations (${cmd.runtime}) did not start: ${(error as Error).message} ${proc.stderr().slice(-500)}`,
    );
  }
}

/** Starts the kit full-stack fixture on core 0 (logs to /dev/null, readiness over IPC). */
async function startKit(): Promise<RunningService> {
  const proc = startTs(join(repoRoot, "bench", "fixtures", "kit-stack-server.ts"), [], {
    prefix: pinning.server,
    stdout: "null",
    ipc: true,
    env: { LOG_FORMAT: "json", LOG_LEVEL: "info" },
  });
  const ready = await proc.waitFor((line) => line.event === "ready", 30_000);
  return { process: proc, port: Number(ready.port) };
}

async function startBare(): Promise<RunningService> {
  const proc = startTs(join(repoRoot, "bench", "fixtures", "bare-server.ts"), [], { prefix: pinning.server });
  const ready = await proc.waitFor((line) => line.event === "ready", 30_000);
  return { process: proc, port: Number(ready.port) };
}

/** Runs the gRPC load generator on core 1 and measures the server's CPU over the same window. */
async function grpcLoad(config: LoadConfig, server: Managed): Promise<LoadResult & { serverCpu: number }> {
  const loader = startTs(join(repoRoot, "bench", "fixtures", "grpc-load.ts"), [JSON.stringify(config)], {
    prefix: pinning.load,
  });
  const limit = config.warmupMs + config.durationMs + 30_000;
  try {
    await loader.waitFor((line) => line.event === "measuring", limit);
    const cpu0 = treeCpuSeconds(server.pid);
    const t0 = performance.now();
    const line = await loader.waitFor((l) => l.event === "result", limit);
    const serverCpu = (treeCpuSeconds(server.pid) - cpu0) / ((performance.now() - t0) / 1000);
    return { ...(line.result as LoadResult), serverCpu };
  } finally {
    await loader.stop();
  }
}

function loadConfig(port: number, api: "v1" | "legacy", mode: "closed" | "open", rate?: number): LoadConfig {
  return {
    target: `127.0.0.1:${port}`,
    api,
    mode,
    connections: CONNECTIONS,
    concurrency: mode === "closed" ? CLOSED_CONCURRENCY : OPEN_OUTSTANDING_CAP,
    ...(rate === undefined ? {} : { rate }),
    warmupMs: P.warmupMs,
    durationMs: mode === "closed" ? P.closedMs : P.openMs,
    maxRequests: MAX_REQUESTS,
  };
}

interface AutocannonJson {
  requests: { average: number };
  latency: { p50: number; p90: number; p99: number; max: number };
  non2xx: number;
  errors: number;
  timeouts: number;
}

/** Runs autocannon (its CLI, on core 1) against `url`; `rate` fixes the overall request rate. */
async function autocannon(url: string, seconds: number, server: Managed, rate?: number): Promise<HttpResult> {
  const args = [
    join(repoRoot, "node_modules", "autocannon", "autocannon.js"),
    "-c",
    "32",
    "-d",
    String(seconds),
    "-j",
    ...(rate === undefined ? [] : ["-R", String(Math.max(1, Math.round(rate)))]),
    url,
  ];
  const proc = start(process.execPath, args, { prefix: pinning.load });
  let out = "";
  proc.child.stdout?.on("data", (chunk: Buffer) => {
    out += chunk.toString();
  });
  const cpu0 = treeCpuSeconds(server.pid);
  const t0 = performance.now();
  const timer = setTimeout(() => proc.child.kill("SIGKILL"), seconds * 1000 + 30_000);
  await proc.exited;
  clearTimeout(timer);
  const serverCpu = (treeCpuSeconds(server.pid) - cpu0) / ((performance.now() - t0) / 1000);
  const json = JSON.parse(out.slice(out.indexOf("{"))) as AutocannonJson;
  return {
    requestsPerSec: json.requests.average,
    p50Ms: json.latency.p50,
    p90Ms: json.latency.p90,
    p99Ms: json.latency.p99,
    maxMs: json.latency.max,
    non2xx: json.non2xx,
    errors: json.errors,
    timeouts: json.timeouts,
    serverCpu,
  };
}

// ---------------------------------------------------------------------------------------------
// The run

const suiteStart = performance.now();
const cmd = serviceCommand("recommendations");
results.meta = {
  date: new Date().toISOString(),
  mode: quick ? "quick (BENCH_QUICK=1)" : "full",
  node: process.version,
  cpu: cpus()[0]?.model ?? "unknown",
  cores,
  pinning: pinning.note,
  serviceRuntime: cmd.runtime,
  grpcJs: (await import("@grpc/grpc-js/package.json", { with: { type: "json" } })).default.version,
  loadAverageAtStart: process.platform === "linux" ? (await import("node:os")).loadavg().map((l) => l.toFixed(2)) : [],
};
log(`${results.meta.mode} run; ${pinning.note}; services run from ${cmd.runtime}`);
mkdirSync(resultsDir, { recursive: true });

await section("codec", async () => {
  const proc = startTs(join(repoRoot, "bench", "codec.ts"), ["--json-event"], {
    prefix: pinning.load,
    env: { BENCH_CODEC_OPTIONS: JSON.stringify(P.codec) },
  });
  try {
    const line = await proc.waitFor((l) => l.event === "codec", 180_000);
    results.codec = line.result as CodecResult;
  } finally {
    await proc.stop();
  }
});

let service: RunningService | undefined;
let bare: RunningService | undefined;
let kit: RunningService | undefined;

await section("recommendations start-up", async () => {
  const servingMs: number[] = [];
  const tcpMs: number[] = [];
  for (let i = 0; i < P.startups; i++) {
    const run = await startRecommendations();
    servingMs.push(run.servingMs);
    tcpMs.push(run.tcpMs);
    if (i < P.startups - 1) await run.process.stop();
    else service = run;
  }
  results.startup.recommendationsMs = servingMs;
  results.startup.recommendationsTcpMs = tcpMs;
});

await section("recommendations idle memory", async () => {
  if (!service) throw new Error("Recommendations did not start");
  bare = await startBare();
  kit = await startKit();
  // Let start-up garbage settle: one second without traffic is "idle".
  await new Promise((resolve) => setTimeout(resolve, 1000));
  results.memory.recommendations = { idleMb: mb(rssBytes(service.process.pid)) };
  results.memory[SERVER_LABEL.bare] = { idleMb: mb(rssBytes(bare.process.pid)) };
  results.memory[SERVER_LABEL.kit] = { idleMb: mb(rssBytes(kit.process.pid)) };
});

await section("Recommend throughput (closed loop)", async () => {
  if (!service || !bare || !kit) throw new Error("servers did not start");
  const servers = [
    ["bare", bare],
    ["kit", kit],
    ["service", service],
  ] as const;
  const rss = servers.map(([name, server]) => [name, sampleRss(server.process.pid)] as const);
  const raw: Record<string, (LoadResult & { serverCpu: number })[]> = {};
  for (const api of ["v1", "legacy"] as const) {
    // Alternate the servers' rounds so drift on a shared machine hits them alike.
    for (let round = 0; round < P.throughputRounds; round++) {
      for (const [name, server] of servers) {
        const result = await grpcLoad(loadConfig(server.port, api, "closed"), server.process);
        const key = `${api}/${name}`;
        raw[key] = [...(raw[key] ?? []), result];
        log(`  ${api} ${name}: ${Math.round(result.throughput)} req/s, server CPU ${result.serverCpu.toFixed(2)}`);
      }
    }
  }
  for (const [key, runs] of Object.entries(raw)) {
    const [api, server] = key.split("/") as ["v1" | "legacy", ServerKind];
    const throughput = median(runs.map((r) => r.throughput));
    const serverCpu = median(runs.map((r) => r.serverCpu));
    results.throughput.push({
      api,
      server,
      throughput,
      serverCpu,
      loadCpu: median(runs.map((r) => r.cpu)),
      perCpuSecond: median(runs.map((r) => r.throughput / Math.max(r.serverCpu, 0.01))),
      p50Ms: ms(median(runs.map((r) => r.latencyUs.p50))),
      p99Ms: ms(median(runs.map((r) => r.latencyUs.p99))),
      errors: runs.reduce((sum, r) => sum + r.errors, 0),
      rounds: runs.map((r) => Math.round(r.throughput)),
    });
  }
  for (const [name, sampler] of rss) {
    const key = name === "service" ? "recommendations" : SERVER_LABEL[name];
    results.memory[key] = { ...results.memory[key], loadedMb: mb(sampler.stop()) };
  }
});

await section("cost of the per-call log line", async () => {
  if (!service) throw new Error("Recommendations did not start");
  // The same service with LOG_LEVEL=warn writes no line for OK calls; the CPU per call difference
  // is what the info line costs (pino serialisation + a synchronous write per call).
  const quiet = await startRecommendations({ LOG_LEVEL: "warn" });
  try {
    if (!h2loadAvailable()) throw new Error("h2load is not installed (Debian: nghttp2-client)");
    // h2load saturates the server's core (the grpc-js client cannot), so CPU per call is stable.
    const perCall: Record<string, number[]> = { info: [], warn: [] };
    for (let round = 0; round < P.throughputRounds; round++) {
      for (const [level, server] of [
        ["info", service],
        ["warn", quiet],
      ] as const) {
        const cpu0 = treeCpuSeconds(server.process.pid);
        const t0 = performance.now();
        const r = await runH2load({
          port: server.port,
          path: V1_PATH,
          bodyFile: v1BodyFile,
          clients: CONNECTIONS,
          streams: 100,
          warmupSeconds: 1,
          durationSeconds: P.h2loadSeconds,
          prefix: pinning.load,
        });
        const serverCpu = (treeCpuSeconds(server.process.pid) - cpu0) / ((performance.now() - t0) / 1000);
        perCall[level]?.push((serverCpu * 1e6) / Math.max(r.requestsPerSec, 1));
      }
    }
    const info = median(perCall.info ?? []);
    const warn = median(perCall.warn ?? []);
    results.logging = { infoUsPerCall: info, warnUsPerCall: warn, shareOfCall: (info - warn) / info };
    log(`  server CPU per call: ${info.toFixed(1)} µs at info, ${warn.toFixed(1)} µs at warn`);
  } finally {
    await quiet.process.stop();
  }
});

await section("Recommend latency at fixed rates (open loop)", async () => {
  if (!service || !bare || !kit) throw new Error("servers did not start");
  const series = [
    { api: "v1", server: "service", target: service },
    { api: "legacy", server: "service", target: service },
    { api: "v1", server: "kit", target: kit },
    { api: "v1", server: "bare", target: bare },
  ] as const;
  for (const s of series) {
    // Rates are fractions of the real service's measured maximum for that API, for every series,
    // so the servers are compared at the same offered load.
    const max = results.throughput.find((r) => r.api === s.api && r.server === "service")?.throughput;
    if (max === undefined || !(max > 0)) throw new Error(`no maximum throughput for ${s.api}`);
    for (const fraction of P.rates) {
      const rate = Math.round(max * fraction);
      const r = await grpcLoad(loadConfig(s.target.port, s.api, "open", rate), s.target.process);
      results.latency.push({
        series: `${SERVER_LABEL[s.server]} ${s.api}`,
        api: s.api,
        server: s.server,
        fraction,
        rate,
        achieved: r.throughput,
        p50Ms: ms(r.latencyUs.p50),
        p90Ms: ms(r.latencyUs.p90),
        p99Ms: ms(r.latencyUs.p99),
        maxMs: ms(r.latencyUs.max),
        errors: r.errors,
        dropped: r.dropped,
        sendLagP99Ms: ms(r.sendLagUs?.p99 ?? 0),
        serverCpu: r.serverCpu,
      });
      log(`  ${s.server} ${s.api} @${rate}/s: p50 ${ms(r.latencyUs.p50)} ms p99 ${ms(r.latencyUs.p99)} ms`);
    }
  }
});

await section("h2load ceiling", async () => {
  if (!service || !bare || !kit) throw new Error("servers did not start");
  if (!h2loadAvailable()) throw new Error("h2load is not installed (Debian: nghttp2-client)");
  {
    const frame = v1Frame;
    const bodyFile = v1BodyFile;
    for (const [name, server] of [
      ["bare", bare],
      ["kit", kit],
      ["service", service],
    ] as const) {
      const status = await grpcStatusOf(server.port, V1_PATH, frame);
      if (status !== "0") throw new Error(`the pre-encoded request got grpc-status ${status} from ${name}`);
      const cpu0 = treeCpuSeconds(server.process.pid);
      const t0 = performance.now();
      const r = await runH2load({
        port: server.port,
        path: V1_PATH,
        bodyFile,
        clients: CONNECTIONS,
        streams: 100,
        warmupSeconds: P.warmupMs / 1000,
        durationSeconds: P.h2loadSeconds,
        prefix: pinning.load,
      });
      const serverCpu = (treeCpuSeconds(server.process.pid) - cpu0) / ((performance.now() - t0) / 1000);
      results.h2load.push({
        server: name,
        requestsPerSec: r.requestsPerSec,
        failed: r.failed,
        errored: r.errored,
        meanMs: r.meanMs,
        serverCpu,
      });
      log(`  h2load ${name}: ${Math.round(r.requestsPerSec)} req/s`);
    }
  }
});

await bare?.process.stop();
await kit?.process.stop();

await section("Marketplace homepage", async () => {
  if (!service) throw new Error("Recommendations did not start");
  const market = serviceCommand("marketplace");
  const startMarketplace = async (): Promise<{ proc: Managed; port: number; readyMs: number }> => {
    const port = await freePort();
    const began = performance.now();
    const proc = start(market.command, market.args, {
      prefix: pinning.server,
      stdout: "null",
      env: {
        PORT: String(port),
        HOST: "127.0.0.1",
        NODE_ENV: "production",
        LOG_FORMAT: "json",
        RECOMMENDATIONS_HOST: "127.0.0.1",
        RECOMMENDATIONS_PORT: String(service?.port),
        // Required in production; any 32 random bytes do for a benchmark.
        COOKIE_SECRET: randomBytes(32).toString("hex"),
        METRICS_HOST: "127.0.0.1",
        METRICS_PORT: "0",
        // The limiter still runs on every request; it just must not turn the load into 429s.
        RATE_LIMIT_MAX: "1000000000",
      },
    });
    try {
      await waitForTcp(port, 20_000, proc.exited);
      await waitForHttp200(`http://127.0.0.1:${port}/readyz`, 20_000);
    } catch (error) {
      await proc.stop();
      throw new Error(
        `Marketplace (${market.runtime}) did not start: ${(error as Error).message}; its logs went to /dev/null, run \`${[market.command, ...market.args].join(" ")}\` by hand to see why. ${proc.stderr().slice(-500)}`,
      );
    }
    return { proc, port, readyMs: performance.now() - began };
  };
  const readyMs: number[] = [];
  let current: { proc: Managed; port: number } | undefined;
  try {
    for (let i = 0; i < P.startups; i++) {
      const started = await startMarketplace();
      current = started;
      readyMs.push(started.readyMs);
      if (i < P.startups - 1) await current.proc.stop();
    }
    results.startup.marketplaceMs = readyMs;
    if (!current) throw new Error("Marketplace did not start");
    await new Promise((resolve) => setTimeout(resolve, 1000));
    results.memory.marketplace = { idleMb: mb(rssBytes(current.proc.pid)) };

    const url = `http://127.0.0.1:${current.port}/`;
    const page = await (await fetch(url)).text();
    if (!/<html/i.test(page) || page.includes(UNAVAILABLE_NOTICE)) {
      throw new Error("the homepage did not render recommendations; is Recommendations reachable?");
    }
    const rss = { market: sampleRss(current.proc.pid), recs: sampleRss(service.process.pid) };
    const max = await autocannon(url, P.httpSeconds, current.proc);
    log(`  homepage max: ${Math.round(max.requestsPerSec)} req/s p99 ${max.p99Ms} ms`);
    const rate = max.requestsPerSec / 2;
    const half = await autocannon(url, P.httpSeconds, current.proc, rate);
    log(`  homepage @${Math.round(rate)}/s: p99 ${half.p99Ms} ms`);
    results.marketplace = { max, halfRate: { ...half, rate } };
    results.memory.marketplace = { ...results.memory.marketplace, loadedMb: mb(rss.market.stop()) };
    const recsLoaded = mb(rss.recs.stop());
    const recsMemory = results.memory.recommendations ?? {};
    results.memory.recommendations = { ...recsMemory, loadedMb: Math.max(recsMemory.loadedMb ?? 0, recsLoaded) };
  } finally {
    await current?.proc.stop();
  }
});

await service?.process.stop();

await section("scaling (cluster workers)", async () => {
  if (!h2loadAvailable()) throw new Error("h2load is not installed (Debian: nghttp2-client)");
  {
    const bodyFile = v1BodyFile;
    for (const workers of [1, 2]) {
      const port = await freePort();
      // Unpinned: the point is to use both cores. h2load shares them, so 2 workers cannot double.
      const proc = startTs(join(repoRoot, "bench", "fixtures", "recommendations-cluster.ts"), [], {
        stdout: "null",
        ipc: true,
        env: {
          WORKERS: String(workers),
          PORT: String(port),
          HOST: "127.0.0.1",
          NODE_ENV: "production",
          LOG_FORMAT: "json",
          METRICS_HOST: "127.0.0.1",
          METRICS_PORT: "0",
        },
      });
      try {
        await proc.waitFor((line) => line.event === "ready", 60_000);
        const cpu0 = treeCpuSeconds(proc.pid);
        const t0 = performance.now();
        const r = await runH2load({
          port,
          path: V1_PATH,
          bodyFile,
          // Connections, not calls, are spread over workers: give each worker several.
          clients: 8,
          streams: 50,
          warmupSeconds: P.warmupMs / 1000,
          durationSeconds: P.scalingSeconds,
          prefix: [],
        });
        const serverCpu = (treeCpuSeconds(proc.pid) - cpu0) / ((performance.now() - t0) / 1000);
        results.scaling.push({ workers, requestsPerSec: r.requestsPerSec, serverCpu, tool: "h2load -c 8 -m 50" });
        log(`  ${workers} worker(s): ${Math.round(r.requestsPerSec)} req/s (server CPU ${serverCpu.toFixed(2)})`);
      } finally {
        await proc.stop(15_000);
      }
    }
  }
});

// ---------------------------------------------------------------------------------------------
// Targets, report, charts

const fmt = (n: number | undefined, digits = 0): string =>
  n === undefined || Number.isNaN(n) ? "n/a" : n.toLocaleString("en-US", { maximumFractionDigits: digits });

function ratioRow(api: "v1" | "legacy", kind: "kit" | "service"): Target | undefined {
  const s = results.throughput.find((r) => r.api === api && r.server === kind);
  const b = results.throughput.find((r) => r.api === api && r.server === "bare");
  if (!s || !b) return undefined;
  const ratio = s.throughput / b.throughput;
  const cpuRatio = s.perCpuSecond / b.perCpuSecond;
  // h2load saturates the server (the grpc-js client may not): its ratio, where measured (v1), is
  // the most reliable, and together with calls per server CPU-second decides the row.
  const hs = results.h2load.find((r) => r.server === kind);
  const hb = results.h2load.find((r) => r.server === "bare");
  const h2Ratio = api === "v1" && hs && hb ? hs.requestsPerSec / hb.requestsPerSec : undefined;
  const decisive = h2Ratio === undefined ? [cpuRatio] : [cpuRatio, h2Ratio];
  return {
    name: `${SERVER_LABEL[kind]} vs bare grpc-js (${api} Recommend)`,
    target: "≥ 90 % of bare",
    measured:
      `${(cpuRatio * 100).toFixed(0)} % per server CPU-second` +
      (h2Ratio === undefined ? "" : `; ${(h2Ratio * 100).toFixed(0)} % of h2load req/s`) +
      `; ${(ratio * 100).toFixed(0)} % of grpc-js-client req/s (${fmt(s.throughput)} vs ${fmt(b.throughput)}${Math.min(s.serverCpu, b.serverCpu) < 0.95 ? ", client-bound" : ""})`,
    pass: Math.min(...decisive) >= 0.9,
  };
}

const maxOf = (values: readonly number[] | undefined): number | undefined =>
  values && values.length > 0 ? median(values) : undefined;
const targets: (Target | undefined)[] = [
  ratioRow("v1", "kit"),
  ratioRow("legacy", "kit"),
  ratioRow("v1", "service"),
  ratioRow("legacy", "service"),
  results.marketplace && {
    name: "Marketplace homepage p99 at half its max rate",
    target: "≤ 10 ms",
    measured: `${fmt(results.marketplace.halfRate.p99Ms, 1)} ms at ${fmt(results.marketplace.halfRate.rate)} req/s`,
    pass: results.marketplace.halfRate.p99Ms <= 10,
  },
  ...(["recommendations", "marketplace"] as const).map((name) => {
    const idle = results.memory[name]?.idleMb;
    return idle === undefined
      ? undefined
      : { name: `${name} RSS at idle`, target: "≤ 80 MB", measured: `${fmt(idle, 1)} MB`, pass: idle <= 80 };
  }),
  maxOf(results.startup.recommendationsMs) !== undefined
    ? {
        name: "Recommendations start-up: spawn → health SERVING",
        target: "≤ 500 ms",
        measured: `${fmt(maxOf(results.startup.recommendationsMs))} ms (median of ${results.startup.recommendationsMs?.length}, ${cmd.runtime})`,
        pass: (maxOf(results.startup.recommendationsMs) ?? Infinity) <= 500,
      }
    : undefined,
  maxOf(results.startup.marketplaceMs) !== undefined
    ? {
        name: "Marketplace start-up: spawn → /readyz 200",
        target: "≤ 500 ms",
        measured: `${fmt(maxOf(results.startup.marketplaceMs))} ms (median of ${results.startup.marketplaceMs?.length})`,
        pass: (maxOf(results.startup.marketplaceMs) ?? Infinity) <= 500,
      }
    : undefined,
];
results.targets = targets.filter((t): t is Target => t !== undefined);
for (const [name, s] of Object.entries(results.sections)) {
  if (!s.ok)
    results.targets.push({
      name: `section "${name}" ran`,
      target: "completes",
      measured: s.error ?? "failed",
      pass: false,
    });
}
results.meta.totalSeconds = Math.round((performance.now() - suiteStart) / 1000);

const charts: string[] = [];
async function chart(file: string, spec: Parameters<typeof writeChart>[1]): Promise<void> {
  try {
    await writeChart(join(resultsDir, file), spec);
    charts.push(file);
  } catch (error) {
    log(`chart ${file} failed: ${(error as Error).message}`);
  }
}
if (results.throughput.length > 0 || results.h2load.length > 0) {
  await chart(
    "throughput.svg",
    groupedBars({
      title: "Recommend unary throughput, server on one core",
      groupTitle: null,
      valueTitle: "OK calls per second",
      rows: [
        ...results.throughput.map((r) => ({
          group: `${r.api} · grpc-js client`,
          series: SERVER_LABEL[r.server],
          value: Math.round(r.throughput),
        })),
        ...results.h2load.map((r) => ({
          group: "v1 · h2load",
          series: SERVER_LABEL[r.server],
          value: Math.round(r.requestsPerSec),
        })),
      ],
    }),
  );
}
if (results.latency.length > 0) {
  await chart(
    "latency.svg",
    latencyLines({
      title: "Recommend latency at fixed offered rates (open loop, from intended send time)",
      rows: results.latency.flatMap((r) => [
        { series: r.series, rate: r.rate, percentile: "p50", ms: Math.max(r.p50Ms, 0.001) },
        { series: r.series, rate: r.rate, percentile: "p90", ms: Math.max(r.p90Ms, 0.001) },
        { series: r.series, rate: r.rate, percentile: "p99", ms: Math.max(r.p99Ms, 0.001) },
      ]),
    }),
  );
}
if (results.scaling.length > 0) {
  await chart(
    "scaling.svg",
    groupedBars({
      title: "Throughput vs worker processes (node:cluster, h2load)",
      groupTitle: "workers",
      valueTitle: "OK calls per second",
      rows: results.scaling.map((r) => ({
        group: String(r.workers),
        series: "Recommendations v1",
        value: Math.round(r.requestsPerSec),
      })),
    }),
  );
}
if (results.codec) {
  await chart(
    "codec.svg",
    horizontalBars({
      title: "Codec cost per message (lower is better)",
      valueTitle: "ns per operation",
      rows: results.codec.rows.map((r) => ({
        label: `${r.message.startsWith("RecommendRequest") ? "request" : "response"}: ${r.operation}`,
        series: r.codec,
        value: Math.round(r.nsPerOp),
      })),
    }),
  );
}

writeFileSync(join(resultsDir, "results.json"), `${JSON.stringify(results, null, 2)}\n`);
writeFileSync(join(resultsDir, "results.md"), renderMarkdown());
log(`done in ${results.meta.totalSeconds} s: bench/results/results.md`);
process.stdout.write(`${renderTargets()}\n`);
process.exit(0);

function renderTargets(): string {
  return [
    "| target | goal | measured | result |",
    "| --- | --- | --- | --- |",
    ...results.targets.map(
      (t) =>
        `| ${t.name} | ${t.target} | ${t.measured} | ${t.pass === undefined ? "info" : t.pass ? "PASS" : "FAIL"} |`,
    ),
  ].join("\n");
}

function renderMarkdown(): string {
  const m = results.meta;
  const out: string[] = [
    "# Benchmark results",
    "",
    `Generated by \`npm run bench\` on ${String(m.date)} (${String(m.mode)}, ${String(m.totalSeconds)} s). ` +
      `Node ${String(m.node)}, @grpc/grpc-js ${String(m.grpcJs)}, ${String(m.cores)} × ${String(m.cpu)}; ` +
      `load average at start ${(m.loadAverageAtStart as string[]).join(" ")}.`,
    "",
    `- ${pinning.note}`,
    `- Services run from ${cmd.runtime === "dist" ? "the compiled dist/ (as in production)" : "TypeScript sources through tsx (run `npm run build` first for production-like start-up times)"}, with NODE_ENV=production and JSON logs at info written to /dev/null.`,
    "- Loopback only; every load run is bounded in time and in count.",
    "",
    "## Targets",
    "",
    renderTargets(),
    "",
    "Reference points we were given for unary Recommend on one core: grpc-js ≈ 29k req/s, Python grpcio ≈ 11.5k, connect-node ≈ 3.9k.",
    "",
  ];
  if (results.throughput.length > 0) {
    out.push(
      "## Recommend throughput (closed loop)",
      "",
      `grpc-js client on core 1, ${CONNECTIONS} connections, ${CLOSED_CONCURRENCY} calls in flight, ${P.warmupMs} ms warm-up then ${P.closedMs} ms measured; median of ${P.throughputRounds} round(s), the servers' rounds alternated. "Server CPU" is cores used by the server process (1.00 = its core saturated); below ~0.95 the client, not the server, was the limit, and "per server CPU-second" is the fairer comparison.`,
      "",
      "| API | server | req/s | rounds | server CPU | client CPU | req per server CPU-s | server CPU µs per call | p50 ms | p99 ms | errors |",
      "| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
      ...results.throughput.map(
        (r) =>
          `| ${r.api} | ${SERVER_LABEL[r.server]} | ${fmt(r.throughput)} | ${r.rounds.join(", ")} | ${r.serverCpu.toFixed(2)} | ${r.loadCpu.toFixed(2)} | ${fmt(r.perCpuSecond)} | ${fmt(1e6 / r.perCpuSecond, 1)} | ${fmt(r.p50Ms, 2)} | ${fmt(r.p99Ms, 2)} | ${r.errors} |`,
      ),
      "",
    );
  }
  if (results.logging) {
    const l = results.logging;
    out.push(
      "### What the per-call log line costs",
      "",
      `Same service, loaded by h2load (server core saturated), LOG_LEVEL=info (one JSON line per call) vs LOG_LEVEL=warn (none for OK calls): ${fmt(l.infoUsPerCall, 1)} vs ${fmt(l.warnUsPerCall, 1)} µs of server CPU per call, so the line is ${(l.shareOfCall * 100).toFixed(0)} % of a call's cost (median of ${P.throughputRounds} alternated round(s)).`,
      "",
    );
  }
  if (results.h2load.length > 0) {
    out.push(
      "## Raw ceiling (h2load)",
      "",
      `h2load on core 1 replaying one pre-encoded gRPC frame (5-byte prefix + RecommendRequest; content-type application/grpc, te: trailers), ${CONNECTIONS} connections × 100 streams, ${P.h2loadSeconds} s. The bytes were first checked to get grpc-status 0.`,
      "",
      "| server | req/s | failed | errored | mean ms | server CPU |",
      "| --- | ---: | ---: | ---: | ---: | ---: |",
      ...results.h2load.map(
        (r) =>
          `| ${SERVER_LABEL[r.server]} | ${fmt(r.requestsPerSec)} | ${r.failed} | ${r.errored} | ${fmt(r.meanMs, 2)} | ${r.serverCpu.toFixed(2)} |`,
      ),
      "",
    );
  }
  if (results.latency.length > 0) {
    out.push(
      "## Recommend latency at fixed rates (open loop)",
      "",
      `Calls are sent on a clock schedule at a fixed fraction of the full service's measured maximum, and each latency is measured from the call's intended send time (no coordinated omission); HDR histogram. ${P.openMs} ms per rate after ${P.warmupMs} ms warm-up. "Send lag" is how far the generator itself fell behind its schedule.`,
      "",
      "| series | rate (req/s) | achieved | p50 ms | p90 ms | p99 ms | max ms | errors | dropped | send lag p99 ms | server CPU |",
      "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
      ...results.latency.map(
        (r) =>
          `| ${r.series} (${Math.round(r.fraction * 100)} %) | ${fmt(r.rate)} | ${fmt(r.achieved)} | ${fmt(r.p50Ms, 2)} | ${fmt(r.p90Ms, 2)} | ${fmt(r.p99Ms, 2)} | ${fmt(r.maxMs, 1)} | ${r.errors} | ${r.dropped} | ${fmt(r.sendLagP99Ms, 2)} | ${r.serverCpu.toFixed(2)} |`,
      ),
      "",
    );
  }
  if (results.marketplace) {
    const { max, halfRate } = results.marketplace;
    out.push(
      "## Marketplace homepage",
      "",
      "autocannon on core 1 (32 connections) against `GET /` (server-rendered page with three real recommendations); Marketplace and Recommendations both on core 0. autocannon times from the actual send, so only the half-rate run (well below saturation) is a fair latency figure.",
      "",
      "| run | req/s | p50 ms | p90 ms | p99 ms | max ms | non-2xx | errors | Marketplace CPU |",
      "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
      `| max throughput | ${fmt(max.requestsPerSec)} | ${max.p50Ms} | ${max.p90Ms} | ${max.p99Ms} | ${max.maxMs} | ${max.non2xx} | ${max.errors} | ${max.serverCpu.toFixed(2)} |`,
      `| fixed ${fmt(halfRate.rate)} req/s (half) | ${fmt(halfRate.requestsPerSec)} | ${halfRate.p50Ms} | ${halfRate.p90Ms} | ${halfRate.p99Ms} | ${halfRate.maxMs} | ${halfRate.non2xx} | ${halfRate.errors} | ${halfRate.serverCpu.toFixed(2)} |`,
      "",
    );
  }
  out.push("## Memory (RSS)", "", "| process | idle MB | peak under load MB |", "| --- | ---: | ---: |");
  for (const [name, value] of Object.entries(results.memory)) {
    out.push(`| ${name} | ${fmt(value.idleMb, 1)} | ${fmt(value.loadedMb, 1)} |`);
  }
  out.push(
    "",
    "## Start-up",
    "",
    "| service | measure | runs (ms) | median ms |",
    "| --- | --- | --- | ---: |",
    `| Recommendations | spawn → TCP accepting | ${(results.startup.recommendationsTcpMs ?? []).map((v) => fmt(v)).join(", ")} | ${fmt(maxOf(results.startup.recommendationsTcpMs))} |`,
    `| Recommendations | spawn → grpc.health.v1 SERVING | ${(results.startup.recommendationsMs ?? []).map((v) => fmt(v)).join(", ")} | ${fmt(maxOf(results.startup.recommendationsMs))} |`,
    `| Marketplace | spawn → GET /readyz 200 | ${(results.startup.marketplaceMs ?? []).map((v) => fmt(v)).join(", ")} | ${fmt(maxOf(results.startup.marketplaceMs))} |`,
    "",
  );
  if (results.scaling.length > 0) {
    out.push(
      "## Scaling with worker processes",
      "",
      `The Recommendations service under the kit's cluster mode (\`WORKERS=n\`, node:cluster, one shared port), unpinned, loaded by h2load (8 connections × 50 streams, ${P.scalingSeconds} s) on the same ${cores} cores. Connections are balanced across workers, not calls. With 2 cores and the load generator needing one, 2 workers cannot double the throughput here.`,
      "",
      "| workers | req/s | server CPU (cores) |",
      "| ---: | ---: | ---: |",
      ...results.scaling.map((r) => `| ${r.workers} | ${fmt(r.requestsPerSec)} | ${r.serverCpu.toFixed(2)} |`),
      "",
    );
  }
  if (results.codec) out.push("## Codec: ts-proto vs protobuf-es v2", "", codecMarkdown(results.codec), "");
  if (charts.length > 0) {
    out.push("## Charts", "", ...charts.map((c) => `![${c}](${c})`), "");
  }
  const failed = Object.entries(results.sections).filter(([, s]) => !s.ok);
  if (failed.length > 0) {
    out.push("## Sections that failed", "", ...failed.map(([name, s]) => `- ${name}: ${s.error}`), "");
  }
  return `${out.join("\n")}\n`;
}
