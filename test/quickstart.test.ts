// The README's quick start, wherever an operator clones: the committed HEAD is cloned with git
// into a directory of mode 0700 (as /root is on Debian, or any `mktemp -d`), and
// `npm ci && npm run plan` runs there as the README says. As root, embedded PostgreSQL runs as
// the `postgres` user, which cannot enter such a directory: the plan must still plan.
//
// To stay fast, `npm ci` runs with --prefer-offline --no-audit --no-fund (the packages come from
// npm's cache, which the suite's own `npm ci` filled); the command is otherwise the README's.
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { afterAll, expect, it } from "vitest";
import { ROOT } from "../infra/load";

const sh = promisify(execFile);
const home = fs.mkdtempSync(path.join(os.tmpdir(), "wod-home-"));
const cleanup: string[] = [home];
afterAll(() => cleanup.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

it("a clone under a 0700 directory runs the quick start (npm ci && npm run plan) and plans", async () => {
  expect(fs.statSync(home).mode & 0o777).toBe(0o700);
  const head = (await sh("git", ["rev-parse", "HEAD"], { cwd: ROOT })).stdout.trim();
  const checkout = path.join(home, "wod");
  await sh("git", ["clone", "--quiet", ROOT, checkout]);
  await sh("git", ["checkout", "--quiet", "--detach", head], { cwd: checkout });

  const env = { ...process.env };
  for (const v of ["DATABASE_URL", "WOD_DATA_DIR", "npm_config_prefix"]) delete env[v];
  const run = await sh("bash", ["-c", "npm ci --prefer-offline --no-audit --no-fund >&2 && npm run plan"], { cwd: checkout, env, maxBuffer: 64 << 20 })
    .then((r) => ({ code: 0, ...r }), (e: { code: number; stdout: string; stderr: string }) => e);
  // Where the embedded database went, to remove it afterwards (as root: outside the private checkout).
  const dataDir = /embedded PostgreSQL in (\S+)/.exec(run.stderr)?.[1];
  if (dataDir && !dataDir.startsWith(checkout)) cleanup.push(path.dirname(dataDir));

  expect(run.stderr).not.toMatch(/\n\s+at /);
  expect(run.code).toBe(0);
  expect(run.stdout).toMatch(/Plan for stack dev as of /);
  expect(run.stdout).toMatch(/backend dev .* 14\/45 seats used/);
  expect(run.stderr).toMatch(/seeded demo data/);
}, 600_000);
