/** One sample line of the Prometheus text format. */
export interface PromSample {
  /** Sample name, with any `_bucket` / `_count` / `_sum` suffix. */
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  /** The value; `+Inf`, `-Inf` and `NaN` are parsed to their numbers. */
  readonly value: number;
}

/** A parsed exposition: every sample plus the `# TYPE` of each family. */
export interface PromExposition {
  readonly samples: readonly PromSample[];
  /** Family name → `counter`, `gauge`, `histogram`, `summary` or `untyped`. */
  readonly types: ReadonlyMap<string, string>;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;

/**
 * Parses the Prometheus text exposition format (version 0.0.4) into flat samples. Only what a
 * scraper needs: names, labels (with `\\`, `\"` and `\n` escapes) and values; timestamps are
 * ignored. Throws an Error naming the line for anything malformed.
 *
 * (parse-prometheus-text-format, the npm package for this, merges the series of a labelled
 * histogram into one and drops their labels, so it cannot read per-method latencies.)
 */
export function parsePrometheusText(text: string): PromExposition {
  const samples: PromSample[] = [];
  const types = new Map<string, string>();
  const lines = text.split("\n");
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index]?.trim() ?? "";
    if (line === "") continue;
    if (line.startsWith("#")) {
      const match = /^#\s*TYPE\s+(\S+)\s+(\S+)/.exec(line);
      if (match?.[1] && match[2]) types.set(match[1], match[2]);
      continue;
    }
    samples.push(parseSampleLine(line, index + 1));
  }
  return { samples, types };
}

function parseSampleLine(line: string, lineNumber: number): PromSample {
  const fail = (why: string): never => {
    throw new Error(`Invalid Prometheus text at line ${lineNumber} (${why}): ${line.slice(0, 200)}`);
  };
  const name = NAME.exec(line)?.[0] ?? fail("bad metric name");
  let rest = line.slice(name.length);
  const labels: Record<string, string> = {};
  if (rest.startsWith("{")) {
    rest = rest.slice(1).trimStart();
    while (!rest.startsWith("}")) {
      const labelName = LABEL_NAME.exec(rest)?.[0] ?? fail("bad label name");
      rest = rest.slice(labelName.length).trimStart();
      if (!rest.startsWith('="')) fail(`expected =" after ${labelName}`);
      let value = "";
      let i = 2;
      for (; i < rest.length && rest[i] !== '"'; i++) {
        if (rest[i] === "\\") {
          i++;
          const escaped = rest[i];
          value += escaped === "n" ? "\n" : (escaped ?? "");
        } else {
          value += rest[i];
        }
      }
      if (i >= rest.length) fail("unterminated label value");
      labels[labelName] = value;
      rest = rest.slice(i + 1).trimStart();
      if (rest.startsWith(",")) rest = rest.slice(1).trimStart();
      else if (!rest.startsWith("}")) fail("expected , or }");
    }
    rest = rest.slice(1);
  }
  const [rawValue] = rest.trim().split(/\s+/, 1);
  const value = parseValue(rawValue ?? "");
  if (value === undefined) fail("bad value");
  return { name, labels, value: value as number };
}

function parseValue(raw: string): number | undefined {
  // Prometheus parses these case-insensitively (Go's ParseFloat); prom-client writes `Nan`.
  const lower = raw.toLowerCase();
  if (lower === "+inf" || lower === "inf") return Number.POSITIVE_INFINITY;
  if (lower === "-inf") return Number.NEGATIVE_INFINITY;
  if (lower === "nan") return Number.NaN;
  if (raw === "" || !/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(raw)) return undefined;
  return Number(raw);
}

/** The samples named `name` whose labels include every pair in `labels`. */
export function findSamples(
  exposition: PromExposition,
  name: string,
  labels: Readonly<Record<string, string>> = {},
): PromSample[] {
  const wanted = Object.entries(labels);
  return exposition.samples.filter((s) => s.name === name && wanted.every(([key, value]) => s.labels[key] === value));
}

/** The sum of the samples {@link findSamples} finds (0 when none). */
export function sumSamples(
  exposition: PromExposition,
  name: string,
  labels: Readonly<Record<string, string>> = {},
): number {
  return findSamples(exposition, name, labels).reduce((total, s) => total + s.value, 0);
}
