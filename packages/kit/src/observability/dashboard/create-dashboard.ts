import { readFileSync } from "node:fs";
import { request as httpRequest, type IncomingMessage, type ServerResponse } from "node:http";
import { request as httpsRequest } from "node:https";
import { createRequire } from "node:module";
import type { AdminHttpHandler } from "../metrics-server.js";
import {
  type ChartPoint,
  chartPoint,
  type SeriesKind,
  type SeriesStats,
  type Snapshot,
  seriesStats,
  snapshotFromText,
} from "./dashboard-model.js";

/** A service the dashboard watches. */
export interface DashboardTarget {
  /** Shown on the page, e.g. `recommendations`. */
  readonly name: string;
  /** Its Prometheus endpoint, e.g. `http://recommendations:9464/metrics`. */
  readonly metricsUrl: string;
  /** `grpc` for a gRPC service (charts its server methods), `http` for a web app (charts its routes). */
  readonly kind: "grpc" | "http";
}

/** Options for {@link createDashboard}. */
export interface CreateDashboardOptions {
  readonly targets: readonly DashboardTarget[];
  /** Scrape (and page refresh) interval; default 2000 ms. */
  readonly intervalMs?: number;
  /** Scrapes kept per target for the charts; default 150 (5 minutes at 2 s). */
  readonly historySize?: number;
  /** The table's rates are over this many intervals, to smooth them; default 5 (10 s at 2 s). */
  readonly rateWindow?: number;
  /** Where the page lives; default `/dashboard`. */
  readonly basePath?: string;
}

/** One target in the summary. */
export interface TargetSummary {
  readonly name: string;
  readonly kind: "grpc" | "http";
  readonly metricsUrl: string;
  /** The last scrape succeeded. */
  readonly up: boolean;
  readonly lastScrapeAt: number | null;
  /** Why the last scrape failed; `null` when it did not. */
  readonly error: string | null;
  readonly process: {
    readonly cpuPercent: number | null;
    readonly residentBytes: number | null;
    readonly eventLoopLagP99Ms: number | null;
  };
  /** Per method (gRPC, both sides) and per route (HTTP), over the last `rateWindow` intervals. */
  readonly methods: readonly SeriesStats[];
  /** Chart history, oldest first. */
  readonly chart: readonly ChartPoint[];
}

/** What `GET <basePath>/api/summary` returns. */
export interface DashboardSummary {
  readonly generatedAt: number;
  readonly intervalMs: number;
  readonly targets: readonly TargetSummary[];
}

/** A running dashboard; see {@link createDashboard}. */
export interface Dashboard {
  /** Serves the page, its assets and the summary API; mount it on the admin (metrics) server. */
  readonly handler: AdminHttpHandler;
  /** The current summary (what the API returns). */
  summary(): DashboardSummary;
  /** Scrapes every target now; resolves when done. The timer calls it; tests may too. */
  scrapeNow(): Promise<void>;
  /** Stops scraping. */
  close(): void;
}

interface TargetState {
  readonly target: DashboardTarget;
  readonly primary: SeriesKind;
  readonly history: Snapshot[];
  readonly chart: ChartPoint[];
  error: string | null;
  lastScrapeAt: number | null;
}

const ASSETS = new URL("../../../src/observability/dashboard/assets/", import.meta.url);
const BASE_PATH = /^(\/[A-Za-z0-9._-]+)+$/;

interface Asset {
  readonly body: Buffer;
  readonly contentType: string;
}

function loadAssets(): Map<string, Asset> {
  const require = createRequire(import.meta.url);
  const file = (path: string | URL): Buffer => readFileSync(path);
  return new Map<string, Asset>([
    ["app.js", { body: file(new URL("app.js", ASSETS)), contentType: "text/javascript; charset=utf-8" }],
    ["app.css", { body: file(new URL("app.css", ASSETS)), contentType: "text/css; charset=utf-8" }],
    [
      "uplot.js",
      { body: file(require.resolve("uplot/dist/uPlot.iife.min.js")), contentType: "text/javascript; charset=utf-8" },
    ],
    ["uplot.css", { body: file(require.resolve("uplot/dist/uPlot.min.css")), contentType: "text/css; charset=utf-8" }],
  ]);
}

/**
 * GETs `url` and resolves with its body, rejecting on a non-2xx status, a network error or
 * `timeoutMs`. node:http rather than fetch: the first fetch() loads undici, ~15 MB of resident
 * memory and tens of ms that the Marketplace would pay for its dashboard alone (docs/performance.md).
 */
function getText(url: string, timeoutMs: number): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const target = new URL(url);
    const request = (target.protocol === "https:" ? httpsRequest : httpRequest)(target, { method: "GET" });
    const timer = setTimeout(() => request.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    const fail = (error: Error): void => {
      clearTimeout(timer);
      reject(error);
    };
    request.once("error", fail);
    request.once("response", (response) => {
      const status = response.statusCode ?? 0;
      if (status < 200 || status > 299) {
        response.resume();
        fail(new Error(`HTTP ${status}`));
        return;
      }
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.once("error", fail);
      response.once("end", () => {
        clearTimeout(timer);
        resolve(Buffer.concat(chunks).toString("utf8"));
      });
    });
    request.end();
  });
}

// No inline script or style anywhere: the page works under this policy, which the browser test checks.
const SECURITY_HEADERS = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
} as const;

function page(basePath: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Online Books For You: live dashboard</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${basePath}/uplot.css">
<link rel="stylesheet" href="${basePath}/app.css">
<script defer src="${basePath}/uplot.js"></script>
<script defer src="${basePath}/app.js"></script>
</head>
<body data-summary-url="${basePath}/api/summary">
<header><h1>Online Books For You</h1><p id="status">Loading live metrics…</p></header>
<main id="targets"></main>
</body>
</html>
`;
}

/**
 * Creates the operators' live dashboard: it scrapes each target's `/metrics` every
 * `intervalMs`, keeps a short history, and serves
 *
 * - `GET <basePath>` (HTML; no inline script, so it runs under a strict CSP),
 * - `GET <basePath>/app.js`, `app.css`, `uplot.js`, `uplot.css` (uPlot from node_modules),
 * - `GET <basePath>/api/summary` (JSON, {@link DashboardSummary}): per target up/down, CPU,
 *   memory, event-loop lag, and per method or route requests/s, error rate and p50/p99 latency
 *   computed from histogram bucket deltas the way Prometheus' `histogram_quantile` does.
 *
 * Mount `handler` on the admin port (e.g. `startMetricsServer({ handlers: [dashboard.handler] })`),
 * never on a public one. Scraping starts at once; `close()` stops it.
 */
export function createDashboard(options: CreateDashboardOptions): Dashboard {
  const intervalMs = options.intervalMs ?? 2000;
  const historySize = Math.max(2, options.historySize ?? 150);
  const rateWindow = Math.max(1, options.rateWindow ?? 5);
  const basePath = options.basePath ?? "/dashboard";
  if (!BASE_PATH.test(basePath)) throw new Error(`basePath must look like /dashboard, got ${JSON.stringify(basePath)}`);
  const names = new Set<string>();
  for (const target of options.targets) {
    if (names.has(target.name)) throw new Error(`Dashboard target ${target.name} is listed twice`);
    names.add(target.name);
    new URL(target.metricsUrl);
  }
  const assets = loadAssets();
  const html = Buffer.from(page(basePath));
  const states: TargetState[] = options.targets.map((target) => ({
    target,
    primary: target.kind === "grpc" ? "grpc_server" : "http",
    history: [],
    chart: [],
    error: null,
    lastScrapeAt: null,
  }));

  const scrapeOne = async (state: TargetState): Promise<void> => {
    try {
      const text = await getText(state.target.metricsUrl, Math.max(500, intervalMs));
      const snapshot = snapshotFromText(text, Date.now());
      const previous = state.history[state.history.length - 1];
      if (previous !== undefined) {
        state.chart.push(chartPoint(previous, snapshot, state.primary));
        if (state.chart.length > historySize) state.chart.shift();
      }
      state.history.push(snapshot);
      if (state.history.length > rateWindow + 1) state.history.shift();
      state.error = null;
      state.lastScrapeAt = snapshot.at;
    } catch (error) {
      state.error = error instanceof Error ? error.message : String(error);
    }
  };

  let inFlight: Promise<void> | undefined;
  const scrapeNow = (): Promise<void> => {
    inFlight ??= Promise.all(states.map(scrapeOne)).then(() => {
      inFlight = undefined;
    });
    return inFlight;
  };
  void scrapeNow();
  const timer = setInterval(() => void scrapeNow(), intervalMs);
  timer.unref();

  const summary = (): DashboardSummary => ({
    generatedAt: Date.now(),
    intervalMs,
    targets: states.map((state) => {
      const latest = state.history[state.history.length - 1];
      const oldest = state.history[0];
      const older = latest !== undefined && oldest !== latest ? oldest : undefined;
      const seconds = older && latest ? (latest.at - older.at) / 1000 : 0;
      const cpu =
        older?.process.cpuSeconds !== undefined && latest?.process.cpuSeconds !== undefined && seconds > 0
          ? ((latest.process.cpuSeconds - older.process.cpuSeconds) / seconds) * 100
          : null;
      const lag = latest?.process.eventLoopLagP99Seconds;
      return {
        name: state.target.name,
        kind: state.target.kind,
        metricsUrl: state.target.metricsUrl,
        up: state.error === null && state.lastScrapeAt !== null,
        lastScrapeAt: state.lastScrapeAt,
        error: state.error,
        process: {
          cpuPercent: cpu === null ? null : Math.max(0, cpu),
          residentBytes: latest?.process.residentBytes ?? null,
          eventLoopLagP99Ms: lag === undefined ? null : lag * 1000,
        },
        methods: latest === undefined ? [] : seriesStats(older, latest),
        chart: state.chart,
      };
    }),
  });

  const send = (response: ServerResponse, status: number, contentType: string, body: Buffer | string): void => {
    response.writeHead(status, { ...SECURITY_HEADERS, "content-type": contentType });
    response.end(body);
  };

  const handler = (request: IncomingMessage, response: ServerResponse): boolean => {
    const path = (request.url ?? "/").split("?", 1)[0] ?? "/";
    if (path !== basePath && !path.startsWith(`${basePath}/`)) return false;
    if (request.method !== "GET" && request.method !== "HEAD") {
      response.setHeader("allow", "GET, HEAD");
      send(response, 405, "text/plain; charset=utf-8", "Method not allowed\n");
      return true;
    }
    const rest = path.slice(basePath.length);
    if (rest === "" || rest === "/") {
      send(response, 200, "text/html; charset=utf-8", html);
    } else if (rest === "/api/summary") {
      send(response, 200, "application/json; charset=utf-8", JSON.stringify(summary()));
    } else {
      const asset = assets.get(rest.slice(1));
      if (asset === undefined) send(response, 404, "text/plain; charset=utf-8", "Not found\n");
      else send(response, 200, asset.contentType, asset.body);
    }
    return true;
  };

  return {
    handler,
    summary,
    scrapeNow,
    close() {
      clearInterval(timer);
    },
  };
}
