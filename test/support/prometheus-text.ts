// Reads the Prometheus text exposition format (version 0.0.4) strictly, for
// tests: every line is a comment (# HELP / # TYPE), blank, or a sample
// `name{label="value",...} number`; anything else throws naming the line.
// Tests use it to check what /metrics says, and which names it has.

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Exposition {
  samples: Sample[];
  /** Metric family names from # TYPE lines, with their type. */
  types: Map<string, string>;
}

const NAME = "[a-zA-Z_:][a-zA-Z0-9_:]*";
const SAMPLE = new RegExp(`^(${NAME})(?:\\{(.*)\\})? (\\S+)(?: -?\\d+)?$`);
const LABEL = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(?:,|$)/y;
const TYPE = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`);
const HELP = new RegExp(`^# HELP ${NAME} `);

export function parsePrometheusText(text: string): Exposition {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  text.split("\n").forEach((line, index) => {
    if (line === "" || HELP.test(line)) return;
    const type = TYPE.exec(line);
    if (type) return void types.set(type[1]!, type[2]!);
    const sample = SAMPLE.exec(line);
    const value = sample && parseValue(sample[3]!);
    if (!sample || value === null) throw new Error(`line ${index + 1} is not Prometheus text format: ${JSON.stringify(line)}`);
    samples.push({ name: sample[1]!, labels: parseLabels(sample[2] ?? "", index + 1), value });
  });
  return { samples, types };
}

function parseValue(raw: string): number | null {
  // Prometheus reads these case-insensitively (Go's ParseFloat); prom-client writes NaN as "Nan".
  const word = raw.toLowerCase();
  if (word === "+inf" || word === "inf") return Infinity;
  if (word === "-inf") return -Infinity;
  if (word === "nan") return NaN;
  const value = Number(raw);
  return raw !== "" && !Number.isNaN(value) ? value : null;
}

function parseLabels(raw: string, line: number): Record<string, string> {
  const labels: Record<string, string> = {};
  LABEL.lastIndex = 0;
  while (LABEL.lastIndex < raw.length) {
    const at = LABEL.lastIndex;
    const match = LABEL.exec(raw);
    if (!match) throw new Error(`line ${line}: bad labels at ${JSON.stringify(raw.slice(at))}`);
    labels[match[1]!] = match[2]!.replace(/\\(.)/g, (_, escaped: string) => (escaped === "n" ? "\n" : escaped));
  }
  return labels;
}

/** The value of the one sample named `name` whose labels include `labels`; 0 when none (a counter not moved yet), throws when several. */
export function sampleValue(exposition: Exposition, name: string, labels: Record<string, string> = {}): number {
  const found = exposition.samples.filter((s) => s.name === name && Object.entries(labels).every(([key, value]) => s.labels[key] === value));
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(labels)}: narrow the labels`);
  return found[0]?.value ?? 0;
}

/** Every family name the exposition declares, and each histogram's and summary's _bucket, _sum and _count. */
export function exportedNames(exposition: Exposition): Set<string> {
  const names = new Set<string>();
  for (const [name, type] of exposition.types) {
    names.add(name);
    if (type === "histogram") for (const suffix of ["_bucket", "_sum", "_count"]) names.add(name + suffix);
    if (type === "summary") for (const suffix of ["_sum", "_count"]) names.add(name + suffix);
  }
  for (const sample of exposition.samples) names.add(sample.name);
  return names;
}
