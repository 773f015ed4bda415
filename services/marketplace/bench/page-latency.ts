// Page latency of the shop: GET /, /search?q=… and a book page, each under a bounded autocannon
// run (closed loop, CONNECTIONS connections, SECONDS s after a short warm-up), against the whole
// store started in this process (src/fixtures/store-harness.ts: the real services, stand-ins
// where a service has not landed). Every answer must be a 200 page with no section degraded,
// else it is counted as failed. Run:
//   node_modules/.bin/node --conditions=source --import tsx services/marketplace/bench/page-latency.ts
// Settings: SECONDS (default 10), CONNECTIONS (default 10).
import autocannon from "autocannon";
import { UNAVAILABLE_NOTICE } from "../src/calls.js";
import { startStoreHarness } from "../src/fixtures/store-harness.js";

const SECONDS = Number(process.env.SECONDS ?? 10);
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 10);

const PAGES = [
  { name: "home", path: "/", ok: (html: string) => html.includes('id="recommended-heading"') },
  { name: "search", path: "/search?q=hound", ok: (html: string) => html.includes("<mark>") },
  { name: "book page", path: "/books/3", ok: (html: string) => html.includes('id="stock"') },
] as const;

const store = await startStoreHarness({
  marketplaceEnv: { RATE_LIMIT_MAX: "100000000", CALL_TIMEOUT_MS: "1500" },
});
const rows: string[] = [];
try {
  for (const page of PAGES) {
    const url = `${store.url}${page.path}`;
    const first = await fetch(url);
    const html = await first.text();
    if (first.status !== 200 || !page.ok(html) || html.includes(UNAVAILABLE_NOTICE)) {
      throw new Error(`${page.name}: not a complete page (status ${first.status})`);
    }
    let bad = 0;
    const run = (seconds: number) =>
      autocannon({
        url,
        connections: CONNECTIONS,
        duration: seconds,
        setupClient(client) {
          client.on("body", (body: Buffer) => {
            const text = body.toString("utf8");
            if (!page.ok(text) || text.includes(UNAVAILABLE_NOTICE)) bad++;
          });
        },
      });
    await run(2);
    bad = 0;
    const result = await run(SECONDS);
    rows.push(
      `| ${page.name} | \`${page.path}\` | ${result.requests.average.toFixed(0)} | ${result.latency.p50} | ${result.latency.p99} | ${result.latency.max} | ${result.non2xx + bad} of ${result.requests.total} |`,
    );
  }
} finally {
  await store.stop();
}
process.stdout.write(
  `\n${CONNECTIONS} connections, ${SECONDS} s each, after a 2 s warm-up\n\n| page | path | pages/s | p50 ms | p99 ms | max ms | failed |\n| --- | --- | --- | --- | --- | --- | --- |\n${rows.join("\n")}\n`,
);
