// The operator's views at the size of a busy event — 300 registrations across several workshops
// and both backends of the prod stack, on a real PostgreSQL — through the commands as typed
// (`wod status`, `wod history`, `wod report --html`), and the report opened in Debian's headless
// chromium: it renders, its numbers are `wod status --json`'s, a name holding HTML shows as text.
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import type { Pool } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readStackFile } from "../infra/config";
import { loadCatalog } from "../infra/catalog/load";
import { syncCatalog } from "../infra/db/catalog-sync";
import { ROOT } from "../infra/load";
import type { Status } from "../infra/view/status";
import { wodYml, writeCatalog } from "./support/fixtures";
import { startPg, type TestPg } from "./support/pg";

const BIN = path.join(ROOT, "infra/cli/bin.js");
const CHROMIUM = "/usr/bin/chromium";
const HOSTILE = `<img src=x onerror="document.title='pwned'">Zoë & "Ada"`;

async function wod(args: string[], env: Record<string, string>) {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, ...env }, maxBuffer: 64 << 20 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

let pg: TestPg;
let pool: Pool;
let env: Record<string, string>;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "wod-views-"));
/** What the event looks like in the database, as the write-back would have left it. */
const truth = { failed: [] as string[], hostile: "", slot17: "" };

beforeAll(async () => {
  pg = await startPg();
  pool = await pg.fresh();
  // The prod stack's two backends (eu, us; slots 1-1000), with an event-sized catalog.
  const prod = readStackFile(path.join(ROOT, "Pulumi.prod.yaml"));
  const catalog = writeCatalog({
    "WKSHP-Python": { yml: wodYml("Python", { range: [1, 120], capacity: 120, location: "eu", alternateLocation: ["us"] }) },
    "WKSHP-Git": { yml: wodYml("Git", { range: [201, 300], capacity: 100, duration: 2 }) },
    "WKSHP-Docker": { yml: wodYml("Docker", { range: [301, 360], capacity: 60, location: "us" }) },
    "WKSHP-SQL": { yml: wodYml("SQL", { range: [401, 440], capacity: 30 }) },
  });
  await syncCatalog(pool, prod, loadCatalog(catalog, prod).workshops);
  env = { DATABASE_URL: pg.url((await pool.query("select current_database() as db")).rows[0].db), WOD_ACTOR: "" };
  // 300 learners in one import, as an operator registers a cohort.
  const lines = ["email,workshop,name,location"];
  for (let i = 1; i <= 300; i++) {
    const [workshop, location] = i <= 150 ? ["Python", i <= 110 ? "eu" : "us"] : i <= 240 ? ["Git", "eu"] : i <= 290 ? ["Docker", "us"] : ["SQL", "eu"];
    lines.push(`learner${i}@example.org,${workshop},${i === 7 ? `"${HOSTILE.replace(/"/g, '""')}"` : `Learner ${i}`},${location}`);
  }
  fs.writeFileSync(path.join(tmp, "event.csv"), lines.join("\n") + "\n");
  const imported = await wod(["import", path.join(tmp, "event.csv"), "--actor", "alice"], env);
  expect(imported.stdout).toContain("import: 300 registered, 0 already registered, 0 rejected");
  // What the runs wrote back: most active (200 of them seen by the hub), some failed, cancelled, released.
  const ids = (await pool.query("select id::text as rid from registrations order by id")).rows.map((r) => r.rid as string);
  await pool.query("update registrations set status = 'active', username = 'student' || slot where id = any($1::bigint[])", [ids.slice(0, 270)]);
  await pool.query("update registrations set last_login_at = starts_at + interval '5 minutes' where id = any($1::bigint[])", [ids.slice(0, 200)]);
  truth.failed = ids.slice(270, 280);
  await pool.query("update registrations set status = 'failed', failure_reason = 'slot ' || slot || ' (registration ' || id || '): render.js exited 1: notebook 1-Lab.ipynb line 3' where id = any($1::bigint[])", [truth.failed]);
  await pool.query("update registrations set status = 'cancelled' where id = any($1::bigint[])", [ids.slice(280, 285)]);
  await pool.query("update registrations set status = 'released', released_at = now(), completion = 0.75 where id = any($1::bigint[])", [ids.slice(285, 290)]);
  truth.hostile = ids[6];
  truth.slot17 = (await pool.query("select p.email from registrations r join participants p on p.id = r.participant_id where r.location = 'eu' and r.slot = 17 and r.status in ('pending', 'active')")).rows[0].email;
}, 300_000);

afterAll(async () => {
  await pg?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

async function statusJson(args: string[] = []): Promise<Status> {
  const r = await wod(["status", "--stack", "prod", "--json", ...args], env);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

async function counted(where: string): Promise<number> {
  return Number((await pool.query(`select count(*) from registrations where ${where}`)).rows[0].count);
}

describe("wod status at 300 learners", () => {
  it("answers who is on slot 17 of backend eu and until when, with seats used and free per backend and workshop equal to the database's", async () => {
    const s = await statusJson();
    const eu = s.backends.find((b) => b.location === "eu")!;
    const python = eu.workshops.find((w) => w.workshop === "Python")!;
    const on17 = python.learners.find((x) => x.slot === 17)!;
    expect(on17.email).toBe(truth.slot17);
    const row = (await pool.query("select ends_at, starts_at from registrations where location = 'eu' and slot = 17 and status in ('pending', 'active')")).rows[0];
    expect(on17).toMatchObject({ state: "active", username: "student17", until: row.ends_at.toISOString(), since: row.starts_at.toISOString() });
    for (const b of s.backends) {
      for (const w of b.workshops) {
        const used = await counted(`location = '${b.location}' and workshop = '${w.workshop}' and status in ('pending', 'active')`);
        expect([w.location, w.workshop, w.used, w.free]).toEqual([b.location, w.workshop, used, w.seats - used]);
      }
    }
    expect(s.totals.used).toBe(await counted("status in ('pending', 'active')"));
    expect(s.totals.learners).toEqual({ pending: 10, active: 270, failed: 10, releasing: 5, released: 5 });
  }, 120_000);

  it("tells which active learners never logged in, and puts failed learners first", async () => {
    const s = await statusJson();
    expect(s.totals.neverLoggedIn).toBe(await counted("status = 'active' and last_login_at is null"));
    expect(s.attention.map((x) => x.registration)).toEqual(truth.failed);
    expect(s.attention[0].error).toMatch(/render.js exited 1/);
  }, 120_000);

  it("reads at 300 learners as text: totals first, then what needs attention, then each backend's workshops sorted by slot; filters by workshop and location", async () => {
    const r = await wod(["status", "--stack", "prod"], env);
    expect(r.code).toBe(0);
    const lines = r.stdout.split("\n");
    expect(lines[0]).toMatch(/^wod status: stack prod at /);
    expect(lines[1]).toMatch(/^totals: 2 backend\(s\), 4 workshop\(s\): 280\/\d+ seats used, \d+ free; learners: 10 failed, 5 releasing, 10 pending, 270 active, 5 released; 70 active never logged in/);
    expect(lines.indexOf("needs attention (10):")).toBe(3);
    const eu = lines.findIndex((l) => l.startsWith("backend eu"));
    const us = lines.findIndex((l) => l.startsWith("backend us"));
    expect(eu).toBeGreaterThan(3);
    expect(us).toBeGreaterThan(eu);
    const slots = lines.slice(eu, us).filter((l) => /^ {4}\d+ +student\d+/.test(l)).map((l) => Number(l.trim().split(/\s+/)[0]));
    expect(slots.length).toBeGreaterThan(150);
    expect(r.stdout).toContain(`(${HOSTILE})`); // plain text: shown as typed
    const git = await statusJson(["--workshop", "Git"]);
    expect(git.backends.map((b) => [b.location, b.workshops.map((w) => w.workshop)])).toEqual([["eu", ["Git"]]]);
    const usOnly = await statusJson(["--location", "us"]);
    expect(usOnly.backends.map((b) => b.location)).toEqual(["us"]);
    expect(usOnly.totals.used).toBe(await counted("location = 'us' and status in ('pending', 'active')"));
  }, 120_000);

  it("wod history names the import that registered them, who ran it, and each learner's story", async () => {
    const h = await wod(["history", "--since", "1h"], env);
    expect(h.stdout).toMatch(/import  by alice \(role [^)]+\): done \(exit 0\)/);
    expect(h.stdout).toContain("registered 300");
    const t = await wod(["history", "--learner", "learner7@example.org"], env);
    expect(t.stdout).toMatch(/#\d+\s+registered\s+learner7@example.org in Python slot 7 on eu/);
    expect(t.stdout).toMatch(/activated .* by database role /); // set here by SQL, as a portal might: still in the story
  }, 60_000);
});

describe("wod report --html in a real browser", () => {
  it("renders one self-contained page whose numbers are wod status --json's; a name holding HTML shows as text", async () => {
    expect(fs.existsSync(CHROMIUM), "Debian's chromium (apt-get install chromium; .ci/run installs it)").toBe(true);
    const file = path.join(tmp, "report.html");
    const r = await wod(["report", "--html", file, "--stack", "prod"], env);
    expect(r.code, r.stderr).toBe(0);
    const s = await statusJson();
    const html = fs.readFileSync(file, "utf8");
    expect(html).not.toMatch(/(src|href)=["']?(https?:)?\/\//); // no external asset
    expect(html).not.toMatch(/<script/i);

    const { chromium } = await import("playwright-core");
    const profile = fs.mkdtempSync(path.join(tmp, "chromium-"));
    const browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM, headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    try {
      const page = await browser.newPage();
      const requests: string[] = [];
      page.on("request", (q) => requests.push(q.url()));
      let dialogs = 0;
      page.on("dialog", (d) => (dialogs++, void d.dismiss()));
      await page.goto(`file://${file}`);
      expect(await page.title()).toMatch(/^wod: prod at /);
      const total = async (id: string) => Number(await page.locator(`[data-total="${id}"]`).textContent());
      expect(await total("used")).toBe(s.totals.used);
      expect(await total("seats")).toBe(s.totals.seats);
      expect(await total("free")).toBe(s.totals.free);
      for (const st of ["failed", "releasing", "pending", "active", "released"] as const) expect(await total(st)).toBe(s.totals.learners[st]);
      expect(await total("neverLoggedIn")).toBe(s.totals.neverLoggedIn);
      // Seats per workshop, as bars, with the same figures.
      for (const b of s.backends) {
        for (const w of b.workshops) {
          const row = page.locator(`tr.seat[data-workshop="${w.workshop}"][data-location="${b.location}"]`);
          expect([Number(await row.locator(".used").textContent()), Number(await row.locator(".seats").textContent())]).toEqual([w.used, w.seats]);
          const width = await row.locator(".bar span").evaluate((el) => (el as unknown as { style: { width: string } }).style.width);
          expect(width).toBe(`${w.seats ? Math.min(100, Math.round((w.used / w.seats) * 100)) : 0}%`);
        }
      }
      // Failing learners first: the attention table lists exactly the failed ones, in order.
      const attention = await page.locator("#attention tr.learner").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-registration")));
      expect(attention).toEqual(truth.failed);
      // The hostile name is text: no image element, no script ran, the title untouched.
      const name = page.locator(`section.backend tr[data-registration="${truth.hostile}"] .name`);
      expect(await name.textContent()).toBe(HOSTILE);
      expect(await page.locator("img").count()).toBe(0);
      expect(await page.title()).not.toBe("pwned");
      expect(dialogs).toBe(0);
      expect(requests.filter((u) => !u.startsWith("file://"))).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 180_000);
});
