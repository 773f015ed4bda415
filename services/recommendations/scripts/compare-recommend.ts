/**
 * A bounded quick comparison of Recommend throughput (h2load, closed loop, server on core 0 and
 * load on core 1, as bench/suite.ts measures it), for checking a change to the service without the
 * whole `npm run bench`:
 *
 *   BEFORE_BUNDLE=services/recommendations/dist/before.bundle.js \
 *     node_modules/.bin/node --conditions=source --import tsx services/recommendations/scripts/compare-recommend.ts
 *
 * Servers: the bundle in dist/ (from data/books.json alone, and with its read model holding 300
 * catalogue books on a test PostgreSQL), the BEFORE_BUNDLE when given (a build kept from before
 * the change, in dist/ so that it finds its files), and the tutorial's Python grpcio server
 * (legacy API, as the suite runs it). Each with and without a log line per call, ROUNDS rounds
 * (default 2) of WARMUP_S + SECONDS (1 + 4) seconds, alternated; prints the median req/s and the
 * start-up to first answer. Needs h2load (nghttp2-client), taskset, /usr/bin/python3 with grpcio.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { createLogger } from "@obfy/kit/core";
import { createDatabase, readDatabaseConfig } from "@obfy/kit/db";
import { createTestDatabase, type TestDatabase } from "@obfy/kit/db/testing";
import { legacyRecommendations, recommendationsV1 } from "@obfy/protos";
import { h2load } from "../../../bench/lib/load.js";
import {
  detectPinning,
  freePort,
  grpcFrame,
  grpcStatusOf,
  killAll,
  type Proc,
  repoRoot,
  start,
  waitUntil,
} from "../../../bench/lib/procs.js";
import { serviceNodeFlags } from "../../../scripts/service-node-flags.mjs";
import { recommendationsMigrations } from "../src/db/migrations/index.js";
import type { RecommendationsSchema } from "../src/db/schema.js";

const ROUNDS = Number(process.env.ROUNDS ?? 2);
const WARMUP_S = Number(process.env.WARMUP_S ?? 1);
const SECONDS = Number(process.env.SECONDS ?? 4);
const pin = detectPinning(availableParallelism());
const work = mkdtempSync(join(tmpdir(), "recommend-compare-"));
process.on("exit", () => {
  killAll();
  rmSync(work, { recursive: true, force: true });
});

const api = {
  v1: {
    path: "/bookstore.recommendations.v1.RecommendationsService/Recommend",
    frame: grpcFrame(
      recommendationsV1.RecommendRequest.encode({
        userId: 1,
        category: recommendationsV1.BookCategory.BOOK_CATEGORY_SCIENCE_FICTION,
        maxResults: 3,
      }).finish(),
    ),
  },
  legacy: {
    path: "/Recommendations/Recommend",
    frame: grpcFrame(
      legacyRecommendations.RecommendationRequest.encode({
        userId: 1,
        category: legacyRecommendations.BookCategory.SCIENCE_FICTION,
        maxResults: 3,
      }).finish(),
    ),
  },
} as const;
for (const [name, { frame }] of Object.entries(api)) writeFileSync(join(work, `${name}.grpc`), frame);

// The tutorial's Python stubs, generated as the tutorial does (into `work`, its PYTHONPATH).
execFileSync("/usr/bin/python3", [
  "-m",
  "grpc_tools.protoc",
  `-I${join(repoRoot, "protos", "legacy")}`,
  `--python_out=${work}`,
  `--grpc_python_out=${work}`,
  "recommendations.proto",
]);

// The read model: a database with 300 books (100 per tutorial category), the backfill marked
// done (no Catalog here), and the bus's own database.
const quiet = createLogger({ name: "compare", level: "silent" });
const databases: TestDatabase[] = [await createTestDatabase(), await createTestDatabase()];
const [own, busDatabase] = databases as [TestDatabase, TestDatabase];
{
  const db = createDatabase<RecommendationsSchema>({
    config: readDatabaseConfig(own.env, { name: "recommendations" }),
    logger: quiet,
    migrations: [recommendationsMigrations],
  });
  await db.migrate();
  const categories = ["mystery", "science-fiction", "self-help"];
  await db.kysely
    .insertInto("books")
    .values(
      Array.from({ length: 300 }, (_, i) => ({
        book_id: String(i + 1),
        isbn: String(9780000000000 + i),
        title: `Book number ${i + 1}`,
        authors: ["An Author"],
        category_ids: [categories[i % 3] as string, "fiction"],
        publication_year: 1950 + (i % 70),
        price_currency: "USD",
        price_minor: 999 + i,
        version: 1,
      })),
    )
    .execute();
  await db.kysely.insertInto("catalog_backfill").values({ completed_at: new Date() }).execute();
  await db.kysely.updateTable("model_revision").set({ revision: "1" }).execute();
  await db.close();
}

interface Spec {
  readonly label: string;
  readonly api: keyof typeof api;
  readonly argv: readonly string[];
  readonly env: Record<string, string>;
}
const node = (bundle: string) => [process.execPath, ...serviceNodeFlags("recommendations"), bundle];
const dist = join(repoRoot, "services", "recommendations", "dist");
const base = { HOST: "127.0.0.1", NODE_ENV: "production", LOG_FORMAT: "json", METRICS_PORT: "0" };
const readModel = {
  DATABASE_URL: own.url,
  EVENT_BUS: "postgres",
  EVENT_BUS_DATABASE_URL: busDatabase.url,
  CATALOG_ADDRESS: "127.0.0.1:9",
};
const specs: Spec[] = [];
for (const [logLine, level] of [
  ["log line", "info"],
  ["no log line", "warn"],
] as const) {
  if (process.env.BEFORE_BUNDLE) {
    specs.push({
      label: `before, books file, ${logLine}`,
      api: "v1",
      argv: node(join(repoRoot, process.env.BEFORE_BUNDLE)),
      env: { ...base, LOG_LEVEL: level },
    });
  }
  specs.push({
    label: `after, books file, ${logLine}`,
    api: "v1",
    argv: node(join(dist, "main.bundle.js")),
    env: { ...base, LOG_LEVEL: level },
  });
  specs.push({
    label: `after, read model (300 books), ${logLine}`,
    api: "v1",
    argv: node(join(dist, "main.bundle.js")),
    env: { ...base, ...readModel, LOG_LEVEL: level },
  });
}
specs.push({
  label: "tutorial's Python grpcio (legacy API)",
  api: "legacy",
  argv: ["/usr/bin/python3", join(repoRoot, "bench", "fixtures", "tutorial", "recommendations.py")],
  env: { HOST: "127.0.0.1", PYTHONPATH: work },
});

const results = new Map<string, { rps: number[]; readyMs: number[]; failed: number }>();
process.stderr.write(
  `load average ${loadavg()
    .map((l) => l.toFixed(1))
    .join(" ")}; ${pin.note}\n`,
);
for (let round = 0; round < ROUNDS; round++) {
  for (const spec of round % 2 === 0 ? specs : [...specs].reverse()) {
    const port = await freePort();
    const began = performance.now();
    const proc: Proc = start(spec.argv, { prefix: pin.server, env: { ...spec.env, PORT: String(port) } });
    const { path, frame } = api[spec.api];
    try {
      await waitUntil(async () => (await grpcStatusOf(port, path, frame)) === "0", proc, 60_000);
      const readyMs = performance.now() - began;
      const result = await h2load({
        port,
        path,
        bodyFile: join(work, `${spec.api}.grpc`),
        warmupSeconds: WARMUP_S,
        seconds: SECONDS,
        prefix: pin.load,
      });
      const entry = results.get(spec.label) ?? { rps: [], readyMs: [], failed: 0 };
      entry.rps.push(result.requestsPerSec);
      entry.readyMs.push(readyMs);
      entry.failed += result.failed;
      results.set(spec.label, entry);
      process.stderr.write(
        `${spec.label}: ${Math.round(result.requestsPerSec)} req/s, ready in ${Math.round(readyMs)} ms\n`,
      );
    } finally {
      await proc.stop();
    }
  }
}
const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? 0 : (sorted[Math.floor((sorted.length - 1) / 2)] as number);
};
console.log(`| server | Recommend req/s (median of ${ROUNDS}) | start-up to first answer, ms | failed |`);
console.log("| --- | ---: | ---: | ---: |");
for (const [label, r] of results) {
  console.log(`| ${label} | ${Math.round(median(r.rps))} | ${Math.round(median(r.readyMs))} | ${r.failed} |`);
}
await Promise.all(databases.map((d) => d.drop()));
process.exit(0);
