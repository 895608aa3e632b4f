// KEY=VALUE files as systemd's EnvironmentFile= reads them; the gate config
// (core_gates.env) and the agent's agent.env are both such files.

export interface EnvLine {
  key: string;
  value: string;
  line: number;
}

/**
 * Parses KEY=VALUE lines the way systemd's EnvironmentFile= does, so one file
 * serves both: `#` and `;` start comment lines, an optional `export ` prefix,
 * values optionally in matching quotes. There are no inline comments: systemd
 * would pass `25 # note` through as the value, and so do we (it then fails as
 * "not a number" instead of meaning something else under systemd).
 */
export function parseEnvText(text: string, fileName: string): { lines: EnvLine[]; problems: string[] } {
  const lines: EnvLine[] = [];
  const problems: string[] = [];
  text.split(/\r?\n/).forEach((rawLine, index) => {
    const line = rawLine.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) return;
    const match = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!match) {
      problems.push(`${fileName}:${index + 1}: expected KEY=VALUE, got ${JSON.stringify(line.slice(0, 80))}`);
      return;
    }
    let value = match[2]!;
    const quoted = /^(['"])(.*)\1$/.exec(value);
    if (quoted) value = quoted[2]!;
    lines.push({ key: match[1]!, value, line: index + 1 });
  });
  return { lines, problems };
}
