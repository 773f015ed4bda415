// What the gateway costs per call, against calling gRPC directly, side by side in one bounded
// run: `npm run bench:cost -w @obfy/gateway`.
//
// A child process runs the Catalog stand-in and the gateway in front of it; this process makes
// the calls. Each round makes CALLS calls of one kind at CONCURRENCY, alternating direct gRPC
// (the kit client, ts-proto) and REST through the gateway (fetch), and reads the child's CPU time
// around each: direct = the Catalog's cost, through the gateway = the Catalog's + the gateway's,
// so the difference is the gateway's CPU per call. Latencies are end to end, as the caller sees
// them (the REST caller also pays for HTTP/1.1 and JSON on its side).
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { createClient } from "@obfy/kit/client";
import { createLogger } from "@obfy/kit/core";
import { createTestIdentity } from "@obfy/kit/dev";
import { catalogV1 } from "@obfy/protos";

const CALLS = Number(process.env.BENCH_CALLS ?? 2000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

if (process.argv[2] === "--serve") {
  const { startStandIns } = await import("../src/fixtures/stand-ins.js");
  const { startGateway } = await import("../src/start-gateway.js");
  const { generateOpenApiDocument } = await import("../src/openapi.js");
  const { loadApiDescriptors } = await import("../src/descriptors.js");
  const identity = await createTestIdentity();
  const standIns = await startStandIns(identity);
  const gateway = await startGateway({
    logger: createLogger({ name: "gateway", level: "silent" }),
    openApi: generateOpenApiDocument(loadApiDescriptors()),
    env: {
      HOST: "127.0.0.1",
      PORT: "0",
      METRICS_PORT: "off",
      GATEWAY_ANONYMOUS_RATE_LIMIT: "1000000",
      ...identity.env,
      ...standIns.env,
    },
  });
  process.on("message", (message) => {
    if (message === "cpu") process.send?.({ cpu: process.cpuUsage() });
    if (message === "stop")
      void gateway
        .close()
        .then(() => standIns.stop())
        .then(() => process.exit(0));
  });
  process.send?.({ gateway: gateway.url, catalog: standIns.env.CATALOG_ADDRESS });
} else {
  const child = fork(fileURLToPath(import.meta.url), ["--serve"], {
    execArgv: ["--conditions=source", "--import", "tsx"],
  });
  const next = () =>
    new Promise<Record<string, unknown>>((resolve) =>
      child.once("message", (m) => resolve(m as Record<string, unknown>)),
    );
  child.once("exit", (code) => {
    if (code !== 0) {
      console.error(`bench: the server process exited with ${code}`);
      process.exit(1);
    }
  });
  const ready = (await next()) as { gateway: string; catalog: string };
  const cpu = async () => {
    child.send("cpu");
    const { cpu: usage } = (await next()) as { cpu: NodeJS.CpuUsage };
    return (usage.user + usage.system) / 1000;
  };
  const grpc = createClient(catalogV1.CatalogServiceService, ready.catalog, {
    logger: createLogger({ name: "bench", level: "silent" }),
  });

  type Kind = { name: string; call: () => Promise<unknown> };
  const kinds: { label: string; direct: Kind; rest: Kind }[] = [
    {
      label: "GetBook",
      direct: { name: "gRPC", call: () => grpc.getBook({ bookId: "3" }) },
      rest: { name: "REST", call: async () => (await fetch(`${ready.gateway}/v1/books/3`)).json() },
    },
    {
      label: "ListBooks (20 books)",
      direct: {
        name: "gRPC",
        call: () => grpc.listBooks({ categoryId: "", orderBy: "", pageSize: 20, pageToken: "" }),
      },
      rest: { name: "REST", call: async () => (await fetch(`${ready.gateway}/v1/books?page_size=20`)).json() },
    },
  ];

  async function measure(kind: Kind) {
    const latencies: number[] = [];
    let started = 0;
    const before = await cpu();
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (started < CALLS) {
          started++;
          const t = performance.now();
          await kind.call();
          latencies.push(performance.now() - t);
        }
      }),
    );
    const wall = performance.now() - t0;
    const serverCpuMs = (await cpu()) - before;
    latencies.sort((a, b) => a - b);
    const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
    return {
      perSecond: (CALLS / wall) * 1000,
      p50: at(0.5),
      p99: at(0.99),
      cpuPerCallUs: (serverCpuMs / CALLS) * 1000,
    };
  }

  // Warm-up: JIT, connections, caches.
  for (const k of kinds) for (let i = 0; i < 300; i++) await Promise.all([k.direct.call(), k.rest.call()]);
  console.log(`calls per measurement ${CALLS}, concurrency ${CONCURRENCY}, rounds ${ROUNDS}, node ${process.version}`);
  console.log("| call | path | calls/s | p50 ms | p99 ms | server CPU µs/call |");
  console.log("| --- | --- | ---: | ---: | ---: | ---: |");
  const summary: string[] = [];
  for (const k of kinds) {
    const results = {
      direct: [] as Awaited<ReturnType<typeof measure>>[],
      rest: [] as Awaited<ReturnType<typeof measure>>[],
    };
    for (let r = 0; r < ROUNDS; r++) {
      results.direct.push(await measure(k.direct));
      results.rest.push(await measure(k.rest));
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
    const row = (name: string, rs: Awaited<ReturnType<typeof measure>>[]) => {
      const m = {
        perSecond: median(rs.map((x) => x.perSecond)),
        p50: median(rs.map((x) => x.p50)),
        p99: median(rs.map((x) => x.p99)),
        cpu: median(rs.map((x) => x.cpuPerCallUs)),
      };
      console.log(
        `| ${k.label} | ${name} | ${m.perSecond.toFixed(0)} | ${m.p50.toFixed(2)} | ${m.p99.toFixed(2)} | ${m.cpu.toFixed(0)} |`,
      );
      return m;
    };
    const d = row("gRPC direct", results.direct);
    const g = row("REST via gateway", results.rest);
    summary.push(
      `${k.label}: the gateway adds ${(g.cpu - d.cpu).toFixed(0)} µs of CPU per call (${(g.cpu / d.cpu).toFixed(1)}× the direct call's server CPU) and ${(g.p50 - d.p50).toFixed(2)} ms at p50`,
    );
  }
  for (const line of summary) console.log(line);
  grpc.close();
  child.send("stop");
}
