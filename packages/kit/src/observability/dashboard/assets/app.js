// Live dashboard: polls the summary API and redraws. Served as a file (no inline script) so the
// page runs under a strict Content-Security-Policy. Data is only ever written with textContent.
/* global uPlot */

const summaryUrl = document.body.dataset.summaryUrl;
const targetsEl = document.getElementById("targets");
const statusEl = document.getElementById("status");
const cards = new Map();

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function fmt(value, digits, unit) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  return `${value.toFixed(digits)}${unit}`;
}

function kpi(parent, label) {
  const box = el("div", "kpi");
  box.append(el("span", "kpi-label", label));
  const value = el("span", "kpi-value", "–");
  box.append(value);
  parent.append(box);
  return value;
}

function chartWidth(charts) {
  // Two charts side by side in the card's content box, 16 px apart.
  return Math.max(280, Math.floor((charts.clientWidth - 16) / 2));
}

function makePlot(charts, container, title, series, axes) {
  const opts = {
    title,
    width: chartWidth(charts),
    height: 180,
    scales: { x: { time: true } },
    axes: [{}, { size: 60 }, ...axes],
    series: [{}, ...series],
    legend: { live: false },
  };
  return new uPlot(opts, [[], ...series.map(() => [])], container);
}

function createCard(target) {
  const card = el("section", "card");
  card.dataset.target = target.name;
  const head = el("div", "card-head");
  head.append(el("h2", "", target.name));
  head.append(el("span", "kind", target.kind === "grpc" ? "gRPC service" : "web app"));
  const pill = el("span", "pill", "…");
  head.append(pill);
  const source = el("span", "source", target.metricsUrl);
  head.append(source);
  card.append(head);
  const error = el("p", "error");
  card.append(error);

  const kpis = el("div", "kpis");
  const values = {
    rps: kpi(kpis, "Requests/s"),
    errors: kpi(kpis, "Errors"),
    p50: kpi(kpis, "p50"),
    p99: kpi(kpis, "p99"),
    cpu: kpi(kpis, "CPU"),
    rss: kpi(kpis, "Memory (RSS)"),
    lag: kpi(kpis, "Event-loop p99"),
  };
  values.rps.classList.add("rps");
  card.append(kpis);

  const charts = el("div", "charts");
  const trafficBox = el("div", "chart");
  const latencyBox = el("div", "chart");
  charts.append(trafficBox, latencyBox);
  card.append(charts);

  const table = el("table", "methods");
  const headRow = el("tr");
  for (const title of ["Kind", "Method / route", "Req/s", "Errors", "p50", "p99", "Total", "Outcomes/s"]) {
    headRow.append(el("th", "", title));
  }
  const thead = el("thead");
  thead.append(headRow);
  const tbody = el("tbody");
  table.append(thead, tbody);
  card.append(table);
  targetsEl.append(card);

  const traffic = makePlot(
    charts,
    trafficBox,
    "Throughput",
    [
      { label: "req/s", stroke: "#2563eb", width: 2 },
      { label: "error %", stroke: "#dc2626", width: 2, scale: "%" },
    ],
    [{ scale: "%", side: 1, size: 50, grid: { show: false } }],
  );
  const latency = makePlot(
    charts,
    latencyBox,
    "Latency (ms)",
    [
      { label: "p50", stroke: "#059669", width: 2 },
      { label: "p99", stroke: "#d97706", width: 2 },
    ],
    [],
  );
  return { charts, pill, error, values, tbody, traffic, latency };
}

const KIND_LABELS = { grpc_server: "served", grpc_client: "calls out", http: "HTTP" };

function updateCard(view, target) {
  view.pill.textContent = target.up ? "UP" : "DOWN";
  view.pill.className = `pill ${target.up ? "up" : "down"}`;
  view.error.textContent = target.error ? `Last scrape failed: ${target.error}` : "";

  const primary = target.kind === "grpc" ? "grpc_server" : "http";
  const served = target.methods.filter((m) => m.kind === primary);
  const rps = served.reduce((total, m) => total + m.rps, 0);
  const errors = served.reduce((total, m) => total + m.rps * m.errorRate, 0);
  const last = target.chart[target.chart.length - 1];
  view.values.rps.textContent = target.up ? fmt(rps, 1, "") : "–";
  view.values.errors.textContent = rps > 0 ? fmt((errors / rps) * 100, 2, " %") : "–";
  view.values.p50.textContent = fmt(last?.p50Ms, 1, " ms");
  view.values.p99.textContent = fmt(last?.p99Ms, 1, " ms");
  view.values.cpu.textContent = fmt(target.process.cpuPercent, 1, " %");
  view.values.rss.textContent =
    target.process.residentBytes === null ? "–" : fmt(target.process.residentBytes / 1048576, 0, " MiB");
  view.values.lag.textContent = fmt(target.process.eventLoopLagP99Ms, 1, " ms");

  const times = target.chart.map((p) => p.t / 1000);
  view.traffic.setData([times, target.chart.map((p) => p.rps), target.chart.map((p) => p.errorRate * 100)]);
  view.latency.setData([times, target.chart.map((p) => p.p50Ms), target.chart.map((p) => p.p99Ms)]);

  const rows = target.methods.map((m) => {
    const row = el("tr");
    const outcomes = Object.entries(m.outcomes)
      .map(([name, perSecond]) => `${name} ${perSecond.toFixed(1)}`)
      .join(", ");
    for (const text of [
      KIND_LABELS[m.kind] ?? m.kind,
      m.name,
      fmt(m.rps, 1, ""),
      fmt(m.errorRate * 100, 2, " %"),
      fmt(m.p50Ms, 1, " ms"),
      fmt(m.p99Ms, 1, " ms"),
      String(m.total),
      outcomes || "–",
    ]) {
      row.append(el("td", "", text));
    }
    if (m.errorRate > 0) row.className = "has-errors";
    return row;
  });
  view.tbody.replaceChildren(...rows);
}

async function refresh() {
  try {
    const response = await fetch(summaryUrl, { cache: "no-store" });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const summary = await response.json();
    for (const target of summary.targets) {
      let view = cards.get(target.name);
      if (!view) {
        view = createCard(target);
        cards.set(target.name, view);
      }
      updateCard(view, target);
    }
    const up = summary.targets.filter((t) => t.up).length;
    statusEl.textContent = `${up}/${summary.targets.length} services up · updated ${new Date(summary.generatedAt).toLocaleTimeString()} · refreshes every ${summary.intervalMs / 1000} s`;
    statusEl.className = up === summary.targets.length ? "ok" : "degraded";
    setTimeout(refresh, summary.intervalMs);
  } catch (error) {
    statusEl.textContent = `Dashboard API unreachable (${error.message}); retrying…`;
    statusEl.className = "degraded";
    setTimeout(refresh, 2000);
  }
}

window.addEventListener("resize", () => {
  for (const view of cards.values()) {
    const width = chartWidth(view.charts);
    view.traffic.setSize({ width, height: 180 });
    view.latency.setSize({ width, height: 180 });
  }
});

refresh();
