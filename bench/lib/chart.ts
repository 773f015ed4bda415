/**
 * The results chart: one SVG with a panel per comparison, bars for us, the peer and the control.
 * A Vega-Lite spec compiled to Vega and rendered headless with `View.toSVG()` (no browser).
 */
import { writeFileSync } from "node:fs";
import { parse, View } from "vega";
import { compile, type TopLevelSpec } from "vega-lite";

/** One bar: `value` of `server` in the panel `panel`; `role` colours it. */
export interface Bar {
  readonly panel: string;
  readonly server: string;
  readonly role: "us" | "peer" | "control";
  readonly value: number;
}

/** Writes the chart of `bars` to `path`. */
export async function writeChart(path: string, title: string, bars: readonly Bar[]): Promise<void> {
  const spec = {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    background: "white",
    title,
    data: { values: bars.map((bar) => ({ ...bar })) },
    facet: {
      row: {
        // Panels in the order of their first bar, not alphabetically.
        sort: [...new Set(bars.map((bar) => bar.panel))],
        field: "panel",
        type: "nominal",
        title: null,
        header: { labelAngle: 0, labelOrient: "top", labelAnchor: "start", labelFontWeight: "bold", labelLimit: 600 },
      },
    },
    resolve: { scale: { x: "independent", y: "independent" } },
    spec: {
      width: 420,
      height: { step: 16 },
      mark: { type: "bar", tooltip: true },
      encoding: {
        y: { field: "server", type: "nominal", title: null, sort: null, axis: { labelLimit: 320 } },
        x: { field: "value", type: "quantitative", title: null },
        color: { field: "role", type: "nominal", title: null, sort: ["us", "peer", "control"] },
      },
    },
    config: { font: "sans-serif" },
  } as TopLevelSpec;
  const view = new View(parse(compile(spec).spec), { renderer: "none" });
  try {
    writeFileSync(path, await view.toSVG());
  } finally {
    view.finalize();
  }
}
