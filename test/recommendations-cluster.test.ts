// WORKERS=2: the Recommendations deployable as one primary and two worker processes sharing PORT
// (node:cluster). Both workers serve calls, the primary's /metrics adds up every worker's calls,
// and one SIGTERM drains everything and exits 0.
import assert from "node:assert/strict";
import { it } from "node:test";
import { fileURLToPath } from "node:url";
import { createClient, createLogger, parsePrometheusText, sumSamples } from "@obfy/kit";
import { recommendationsV1 } from "@obfy/protos";
import { spawnLogged } from "./support/logged-process.js";
import { logRecords } from "./support/pages.js";
import { freePort } from "./support/readiness.js";

const repoRoot = fileURLToPath(new URL("..", import.meta.url));
// Two workers load the kit (database and event bus included) from source through tsx at once: on
// the shared 2-core machine under a load average of 24 that took 46 to 90 s, alone 5 to 10 s.
const STARTUP_MS = 150_000; // within the runner's 180 s per test
const CLIENTS = 8;
const CALLS_PER_CLIENT = 5;

it("WORKERS=2 runs two serving workers behind one port, with merged metrics and one clean shutdown", async (t) => {
  const port = await freePort();
  const metricsPort = await freePort();
  const service = spawnLogged(
    process.execPath,
    ["--conditions=source", "--import", "tsx", "services/recommendations/src/main.ts"],
    {
      cwd: repoRoot,
      env: {
        ...process.env,
        WORKERS: "2",
        HOST: "127.0.0.1",
        PORT: String(port),
        METRICS_PORT: String(metricsPort),
        LOG_FORMAT: "json",
        LOG_LEVEL: "info",
        SHUTDOWN_GRACE_SECONDS: "5",
      },
    },
  );
  t.after(() => service.stop());

  // The primary logs one "Worker serving" line per worker once it serves.
  await service.waitForLine(/"msg":"Worker serving".*"worker":2|"worker":2.*"msg":"Worker serving"/, STARTUP_MS);
  await service.waitForLine(/"msg":"Worker serving".*"worker":1|"worker":1.*"msg":"Worker serving"/, STARTUP_MS);

  // The cluster spreads connections, not calls: each client gets its own connection.
  const quiet = createLogger({ name: "cluster-test", level: "silent" });
  const clients = Array.from({ length: CLIENTS }, (_, i) =>
    createClient(recommendationsV1.RecommendationsServiceService, `127.0.0.1:${port}`, {
      logger: quiet,
      channelOptions: { "grpc.use_local_subchannel_pool": 1, "test.client": i },
    }),
  );
  t.after(() => {
    for (const client of clients) client.close();
  });
  const request = recommendationsV1.RecommendRequest.fromPartial({
    category: recommendationsV1.BookCategory.BOOK_CATEGORY_MYSTERY,
  });
  for (let round = 0; round < CALLS_PER_CLIENT; round++) {
    const responses = await Promise.all(clients.map((client) => client.recommend(request)));
    for (const response of responses) assert.equal(response.recommendations.length, 3);
  }

  // Workers batch their log lines (written at least every 250 ms), so wait for all of them.
  const okCallLines = () =>
    logRecords(service.lines).filter(
      (r) => r.method === "/bookstore.recommendations.v1.RecommendationsService/Recommend" && r.grpc_code === "OK",
    );
  const logDeadline = Date.now() + 5_000;
  while (okCallLines().length < CLIENTS * CALLS_PER_CLIENT && Date.now() < logDeadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const callLines = okCallLines();
  assert.equal(callLines.length, CLIENTS * CALLS_PER_CLIENT, "one log line per call");
  const pids = new Set(callLines.map((r) => r.pid));
  t.diagnostic(
    `calls per worker pid: ${JSON.stringify([...pids].map((p) => [p, callLines.filter((r) => r.pid === p).length]))}`,
  );
  assert.equal(pids.size, 2, "both workers served calls");

  const response = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
  assert.equal(response.status, 200);
  const families = parsePrometheusText(await response.text());
  const handled = sumSamples(families, "grpc_server_handled_total", {
    grpc_method: "Recommend",
    grpc_code: "OK",
  });
  assert.equal(handled, CLIENTS * CALLS_PER_CLIENT, "the primary's /metrics counts every worker's calls");

  service.kill("SIGTERM");
  const exit = await service.exited;
  assert.deepEqual(exit, { code: 0, signal: null }, service.lines.join("\n"));
  const messages = logRecords(service.lines).map((r) => r.msg);
  assert.equal(messages.filter((m) => m === "Shutdown complete").length, 2, "each worker drained");
});
