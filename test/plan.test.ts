// `npm run plan` as an operator runs it: a child process on the embedded database.
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { ROOT } from "../infra/load";
import { wodYml, writeCatalog } from "./support/fixtures";

const exec = promisify(execFile);

async function plan(args: string[], env: Record<string, string> = {}) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "wod-plan-"));
  fs.chmodSync(dataDir, 0o755);
  const run = exec(path.join(ROOT, "node_modules/.bin/tsx"), ["infra/cli/plan.ts", ...args], {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL: "", WOD_DATA_DIR: path.join(dataDir, "pg"), ...env },
  });
  try {
    const { stdout, stderr } = await run;
    return { code: 0, stdout, stderr, dataDir };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr, dataDir };
  }
}

describe("npm run plan", () => {
  it("on the shipped demo, --json is valid JSON with backends, student accounts and student servers", async () => {
    const r = await plan(["--json"]);
    expect(r.code).toBe(0);
    const p = JSON.parse(r.stdout);
    expect(p.counts).toMatchObject({ backends: 1, accounts: 14, studentServers: 3, rejected: 2 });
    expect(p.accounts).toHaveLength(p.counts.accounts);
    expect(p.stack).toBe("dev");
    expect(r.stderr).toMatch(/seeded demo data/);
  }, 120_000);

  it("prints a readable tree by default", async () => {
    const r = await plan([]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/backend dev .*slots 1-60/);
    expect(r.stdout).toMatch(/workshop Python101 .* 7 accounts/);
    expect(r.stdout).toMatch(/student servers \(3\)/);
    expect(r.stdout).toMatch(/rejected inputs \(2\)/);
  }, 120_000);

  it("a broken catalog from --workshops exits non-zero, names the problem and writes nothing", async () => {
    const dir = writeCatalog({ "WKSHP-A": { yml: wodYml("A", { location: "dev", range: [50, 70] }) } });
    const r = await plan(["--workshops", dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/WKSHP-A\/wod\.yml: range: range 50-70 is outside the slot pool 1-60 of location dev/);
    expect(fs.existsSync(path.join(r.dataDir, "pg"))).toBe(false);
  }, 120_000);

  it("an unreachable database is a clear error and a non-zero exit, with the password hidden", async () => {
    const r = await plan([], { DATABASE_URL: "postgres://wod:hunter2@127.0.0.1:9/wod" });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/cannot reach the database \(postgres:\/\/wod:\*\*\*@127\.0\.0\.1:9\/wod\)/);
    expect(r.stderr).not.toMatch(/hunter2/);
  }, 120_000);
});
