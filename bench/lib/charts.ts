/**
 * Benchmark charts as static SVG: Vega-Lite specs compiled to Vega and rendered headless with
 * `View.toSVG()` (no browser, no canvas). Text widths are estimated, which is fine for charts.
 */
import { writeFileSync } from "node:fs";
import { parse, View } from "vega";
import { compile, type TopLevelSpec } from "vega-lite";

/** Renders `spec` to `path` as SVG. */
export async function writeChart(path: string, spec: TopLevelSpec): Promise<void> {
  const view = new View(parse(compile(spec).spec), { renderer: "none" });
  try {
    writeFileSync(path, await view.toSVG());
  } finally {
    view.finalize();
  }
}

const base = {
  $schema: "https://vega.github.io/schema/vega-lite/v6.json",
  background: "white",
  config: { font: "sans-serif", axis: { labelFontSize: 11, titleFontSize: 12 }, legend: { labelFontSize: 11 } },
} as const;

/** Grouped bars: one group per `group`, one bar per `series`, height `value`. */
export function groupedBars(options: {
  title: string;
  rows: readonly { group: string; series: string; value: number }[];
  valueTitle: string;
  /** Axis title under the groups; null for none. */
  groupTitle: string | null;
}): TopLevelSpec {
  return {
    ...base,
    title: options.title,
    data: { values: options.rows.map((r) => ({ ...r })) },
    width: { step: 60 },
    height: 260,
    mark: { type: "bar", tooltip: true },
    encoding: {
      x: {
        field: "group",
        type: "nominal",
        title: options.groupTitle,
        sort: null,
        axis: { labelAngle: 0, labelLimit: 200 },
      },
      xOffset: { field: "series", type: "nominal" },
      y: { field: "value", type: "quantitative", title: options.valueTitle },
      color: { field: "series", type: "nominal", title: null },
    },
  } as TopLevelSpec;
}

/** Latency percentiles against offered rate, one panel per series, log-scale milliseconds. */
export function latencyLines(options: {
  title: string;
  rows: readonly { series: string; rate: number; percentile: string; ms: number }[];
}): TopLevelSpec {
  return {
    ...base,
    title: options.title,
    data: { values: options.rows.map((r) => ({ ...r })) },
    facet: { column: { field: "series", type: "nominal", title: null } },
    spec: {
      width: 220,
      height: 220,
      mark: { type: "line", point: true, tooltip: true },
      encoding: {
        x: { field: "rate", type: "quantitative", title: "offered rate (req/s)" },
        y: { field: "ms", type: "quantitative", title: "latency (ms, log)", scale: { type: "log" } },
        color: { field: "percentile", type: "nominal", sort: ["p50", "p90", "p99"], title: null },
      },
    },
  } as TopLevelSpec;
}

/** Horizontal bars, one per `label`, coloured by `series`. */
export function horizontalBars(options: {
  title: string;
  rows: readonly { label: string; series: string; value: number }[];
  valueTitle: string;
}): TopLevelSpec {
  return {
    ...base,
    title: options.title,
    data: { values: options.rows.map((r) => ({ ...r })) },
    width: 420,
    height: { step: 14 },
    mark: { type: "bar", tooltip: true },
    encoding: {
      y: { field: "label", type: "nominal", title: null, sort: null, axis: { labelLimit: 400 } },
      yOffset: { field: "series", type: "nominal" },
      x: { field: "value", type: "quantitative", title: options.valueTitle },
      color: { field: "series", type: "nominal", title: null },
    },
  } as TopLevelSpec;
}
