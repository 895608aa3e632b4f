// cloud-init's own readers, run on the files flash writes for it (Debian
// package cloud-init, which brings PyYAML: the YAML reader cloud-init uses
// on the Pi). cloud-init 22.4 validates user-data only (`schema` wants
// "#cloud-config" first); network-config is read as first boot reads it by
// `devel net-convert`, which parses it and renders it to netplan.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const CLOUD_INIT = "cloud-init";

function run(command: string, args: string[], input?: string): { status: number | null; output: string; stdout: string } {
  const result = spawnSync(command, args, { encoding: "utf8", input });
  if (result.error) throw new Error(`${command} (Debian package cloud-init) did not run: ${result.error.message}`);
  return { status: result.status, output: `${result.stdout}${result.stderr}`, stdout: result.stdout };
}

/** Runs `use` on `content` written to a private temp file, then removes it. */
function withFile<T>(name: string, content: string, use: (file: string, dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), "edgefed-cloud-init-"));
  try {
    const file = join(dir, name);
    writeFileSync(file, content);
    return use(file, dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `cloud-init schema --config-file` on `userData`: its exit code and output ("Valid cloud-config" when it passes). */
export function cloudInitSchema(userData: string): { status: number | null; output: string } {
  return withFile("user-data", userData, (file) => run(CLOUD_INIT, ["schema", "--config-file", file]));
}

/**
 * `network-config` as cloud-init reads it: `cloud-init devel net-convert`
 * parses it and writes netplan. The netplan text when that worked, else
 * cloud-init's output in `problem`.
 */
export function cloudInitNetplan(networkConfig: string): { netplan: string } | { problem: string } {
  return withFile("network-config", networkConfig, (file, dir) => {
    const out = join(dir, "out");
    const result = run(CLOUD_INIT, ["devel", "net-convert", "--network-data", file, "--kind", "yaml", "--distro", "debian", "--output-kind", "netplan", "--directory", out]);
    if (result.status !== 0) return { problem: result.output };
    return { netplan: readFileSync(join(out, "etc/netplan/50-cloud-init.yaml"), "utf8") };
  });
}

/** Parses each text with PyYAML's safe_load (cloud-init's reader) in one python3 run: the value as JSON, or the error. */
export function pyYamlLoad(texts: string[]): ({ value: unknown } | { error: string })[] {
  const script = `
import json, sys, yaml
out = []
for text in json.load(sys.stdin):
    try:
        out.append({"value": yaml.safe_load(text)})
    except yaml.YAMLError as error:
        out.append({"error": str(error)})
print(json.dumps(out, default=repr))`; // a date or other non-JSON value comes back as its repr, and so differs
  const result = run("/usr/bin/python3", ["-c", script], JSON.stringify(texts));
  if (result.status !== 0) throw new Error(`python3 yaml: ${result.output}`);
  return JSON.parse(result.stdout);
}
