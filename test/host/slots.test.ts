// activate-slot.sh and release-slot.sh on a real Debian host with JupyterHub, checked the way
// a learner (browser, files) and an operator (records, archives, processes) see them.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  Browser, WORKSHOP_DIR, activate, bootstrap, fixtures, hubApi, hubToken, newPassword, release,
  startTestHost, type TestHost,
} from "./testhost";

const VARS = [
  "WODBEEXTFQDN=wod.example.org",
  "HTTPPORT=8000",
  "WODBEURL=https://portal.example.org",
  'BRANDING=ACME "Labs" \\ {{ not a template }}',
  "PORT_WEB=10002",
];
const README_URL = "/user/student2/notebooks/WKSHP-Sample/0-ReadMeFirst.ipynb";

let host: TestHost;
const token = hubToken();
const oldPassword = newPassword();
const password = newPassword();

const lastJson = (out: string) => JSON.parse(out.trim().split("\n").pop()!);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const cellText = (cell: { source: string | string[] }) =>
  Array.isArray(cell.source) ? cell.source.join("") : cell.source;

beforeAll(async () => {
  host = await startTestHost();
  const r = await bootstrap(host, token);
  expect(r.code, r.stderr).toBe(0);
  await host.upload(join(fixtures, "WKSHP-Sample"), WORKSHOP_DIR);
}, 900_000);

afterAll(async () => {
  await host?.down();
}, 120_000);

describe("activate-slot.sh", () => {
  it("gives the slot the new registration's password: it logs in through the hub's form, the previous one no longer does", async () => {
    const first = await activate(host, "reg-old", 2, oldPassword, VARS);
    expect(first.code, first.stderr).toBe(0);
    expect((await new Browser(host.hubUrl).login("student2", oldPassword)).url).toBe(README_URL);

    const r = await activate(host, "reg-a", 2, password, VARS);
    expect(r.code, r.stderr).toBe(0);

    const learner = new Browser(host.hubUrl);
    const page = await learner.login("student2", password);
    expect(page.status).toBe(200);
    expect(page.url).toBe(README_URL); // 0-ReadMeFirst.ipynb is what opens first
    expect(page.body).toContain('data-notebook-path="WKSHP-Sample/0-ReadMeFirst.ipynb"');

    const stale = await new Browser(host.hubUrl).login("student2", oldPassword);
    expect(stale.url).toBe("/hub/login");
    expect(stale.body).toContain("Invalid username or password");
    // The slot's previous holder was released (archived, recorded) before the new one got it.
    const previous = JSON.parse(await host.sh("cat /var/lib/wod/released/reg-old.json"));
    expect(previous).toMatchObject({ registration: "reg-old", slot: 2, archive: "/var/lib/wod/archive/reg-old.tar.gz" });
  }, 180_000);

  it("renders the workshop folder with the slot's variables and Jinja conditionals, owned by the learner", async () => {
    const dir = "/student/student2/WKSHP-Sample";
    const files = (await host.sh(`cd ${dir} && find . -type f | sort`)).trim().split("\n");
    expect(files).toEqual([
      "./0-ReadMeFirst.ipynb", "./1-Lab.ipynb", "./2-Conclusion.ipynb", "./README.md", "./pictures/logo.png", "./wod.yml",
    ]);
    const readme = JSON.parse(await host.sh(`cat ${dir}/0-ReadMeFirst.ipynb`)); // still valid JSON
    const [welcome, conditional, portal] = readme.cells.map(cellText);
    expect(welcome).toContain("# Welcome to WKSHP-Sample, student2");
    expect(welcome).toContain("You are student 2 on wod.example.org:8000.");
    expect(welcome).toContain(`Your password is \`${password}\`.`);
    expect(welcome).toContain('Brought to you by ACME "Labs" \\ {{ not a template }}.');
    expect(conditional).toBe("Open the web console at http://wod.example.org:10002/\nNo database for this workshop.");
    expect(portal).toBe("Back to the portal: https://portal.example.org");

    const lab = JSON.parse(await host.sh(`cat ${dir}/1-Lab.ipynb`));
    expect(cellText(lab.cells[1])).toBe("print('hello from student 2')");
    expect(await host.sh(`cat ${dir}/README.md`)).toContain("Connect with `ssh student2@wod.example.org`.");

    const png = readFileSync(join(fixtures, "WKSHP-Sample/pictures/logo.png"));
    const remote = (await host.sh(`sha256sum ${dir}/pictures/logo.png`)).split(" ")[0];
    expect(remote).toBe(createHash("sha256").update(png).digest("hex"));

    expect((await host.sh("find /student/student2 ! -user student2 -o ! -group student2")).trim()).toBe("");
    expect((await host.sh("stat -c %a /student/student2")).trim()).toBe("700");
  });

  it("serves the rendered notebook to the learner from their own server", async () => {
    const learner = new Browser(host.hubUrl);
    await learner.login("student2", password);
    const nb = await learner.request("/user/student2/api/contents/WKSHP-Sample/0-ReadMeFirst.ipynb");
    expect(nb.status).toBe(200);
    expect(cellText(JSON.parse(nb.body).content.cells[0])).toContain("You are student 2");
  });

  it("starts the learner's server through the hub API, running as the learner, and it answers", async () => {
    const user = await hubApi(host, token, "/users/student2");
    expect(user.json.servers[""].ready).toBe(true);
    const status = await fetch(`${host.hubUrl}/user/student2/api/status`, { headers: { authorization: `token ${token}` } });
    expect(status.status).toBe(200);
    expect((await host.sh("ps -o user= -C jupyterhub-singleuser")).trim().split("\n")).toEqual(["student2"]);
  });

  it("keeps a slot's home away from other students", async () => {
    const r = await activate(host, "reg-b", 3, newPassword(), VARS);
    expect(r.code, r.stderr).toBe(0);
    const peek = await host.ssh("su student3 -c 'ls /student/student2'");
    expect(peek.code).not.toBe(0);
    expect(peek.stderr).toContain("Permission denied");
    const read = await host.ssh("su student3 -c 'cat /student/student2/WKSHP-Sample/0-ReadMeFirst.ipynb'");
    expect(read.code).not.toBe(0);
    // The owner can, so the refusal is about the other student.
    expect((await host.sh("su student2 -c 'ls /student/student2'")).trim()).toBe("WKSHP-Sample");
  });

  it("is safe to run twice: the learner keeps their work, password and running server", async () => {
    await host.sh("su student2 -c 'echo my notes > /student/student2/WKSHP-Sample/notes.txt'");
    const pid = (await host.sh("pgrep -u student2 -f jupyterhub-singleuser")).trim();
    const again = await activate(host, "reg-a", 2, password, VARS);
    expect(again.code, again.stderr).toBe(0);
    expect((await host.sh("cat /student/student2/WKSHP-Sample/notes.txt")).trim()).toBe("my notes");
    expect((await host.sh("pgrep -u student2 -f jupyterhub-singleuser")).trim()).toBe(pid);
    expect((await new Browser(host.hubUrl).login("student2", password)).url).toBe(README_URL);
  });

  it("re-runs an interrupted activation to completion", async () => {
    const pw = newPassword();
    // Start an activation on the host and SIGKILL its whole process group once it has begun.
    const killed = await host.ssh(
      `setsid /opt/wod/bin/activate-slot.sh --registration reg-d --slot 5 --uid-offset 2000 ` +
        `--workshop-dir ${WORKSHOP_DIR} <&0 2>/dev/null & pid=$!
       until grep -qs '"status":"activating"' /var/lib/wod/slots/student5.json; do sleep 0.005; done
       kill -KILL -- -$pid; wait $pid; echo "exit $?"`,
      { input: pw + "\n" },
    );
    expect(killed.stdout.trim()).toBe("exit 137");
    expect(await host.sh("cat /var/lib/wod/slots/student5.json")).toContain('"status":"activating"');
    // Leftovers of a half-done run: a truncated notebook and an abandoned render.
    await host.sh(`mkdir -p /student/student5/WKSHP-Sample /student/student5/WKSHP-Sample.rendering
      echo '{"cells": [' > /student/student5/WKSHP-Sample/0-ReadMeFirst.ipynb
      chown -R student5: /student/student5`);

    const r = await activate(host, "reg-d", 5, pw);
    expect(r.code, r.stderr).toBe(0);
    expect(await host.sh("cat /var/lib/wod/slots/student5.json")).toContain('"status":"active"');
    expect((await host.sh("ls -A /student/student5 | grep WKSHP")).trim()).toBe("WKSHP-Sample");
    const readme = JSON.parse(await host.sh("cat /student/student5/WKSHP-Sample/0-ReadMeFirst.ipynb"));
    expect(cellText(readme.cells[0])).toContain("You are student 5");
    expect((await new Browser(host.hubUrl).login("student5", pw)).url).toBe(
      "/user/student5/notebooks/WKSHP-Sample/0-ReadMeFirst.ipynb",
    );
  }, 120_000);

  it("never shows the password or the hub token in process lists, environments, shell history or logs", async () => {
    const pw = newPassword();
    // Sample every process's arguments and environment while the scripts run.
    await host.sh(`rm -f /root/stop-watch; nohup bash -c 'end=$((SECONDS + 60))
      while ((SECONDS < end)) && [ ! -e /root/stop-watch ]; do
        ps -eo args; cat /proc/[0-9]*/environ 2>/dev/null | tr "\\0" "\\n"
      done' >/root/watch.log 2>&1 </dev/null &`);
    expect((await activate(host, "reg-e", 4, pw, VARS)).code).toBe(0);
    expect((await activate(host, "reg-e", 4, pw, VARS)).code).toBe(0);
    expect((await bootstrap(host, token)).code).toBe(0);
    expect((await release(host, "reg-e", 4)).code).toBe(0);
    await host.sh("touch /root/stop-watch; sleep 0.5");

    const watched = await host.sh("cat /root/watch.log");
    expect(watched).toContain("activate-slot.sh --registration reg-e"); // the sampler did see them
    expect(watched).toContain("bootstrap-backend.sh");
    expect(watched).not.toContain(pw);
    expect(watched).not.toContain(token);

    // grep takes the secrets on stdin (-f -), so this search does not leak them either.
    const secrets = `${pw}\n${token}\n`;
    const leaks = await host.ssh(
      "grep -rlaF -f - /var/log /root /etc /tmp /run /var/lib/wod/slots /var/lib/wod/released " +
        "--exclude=hub-token --exclude=watch.log",
      { input: secrets },
    );
    expect(leaks.stdout).toBe("");
    expect(leaks.code).toBe(1); // 1 = searched and found nothing
    // Control: the same search does find the token where it belongs.
    expect((await host.ssh("grep -rlaF -f - /etc/wod", { input: secrets })).stdout.trim()).toBe("/etc/wod/hub-token");
  }, 180_000);

  it("refuses a missing password and a password passed as a flag", async () => {
    const none = await activate(host, "reg-x", 1, "");
    expect(none.code).not.toBe(0);
    expect(none.stderr).toContain("secret on stdin");
    const flag = await activate(host, "reg-x", 1, "pw", ["PASSSTU=oops"]);
    expect(flag.code).not.toBe(0);
    expect(flag.stderr).toContain("PASSSTU comes from stdin");
    expect((await host.sh("passwd -S student1")).split(" ")[1]).toBe("L");
  });
});

describe("release-slot.sh", () => {
  it("records the completion ratio, archives and wipes the home, locks the account, stops the server, kills the learner's processes", async () => {
    const lab = "/student/student2/WKSHP-Sample/1-Lab.ipynb";
    // The learner ran 2 of the workshop's 4 code cells, and made a notebook of their own.
    await host.sh(`python3 - <<'EOF'
import json, shutil
nb = json.load(open("${lab}"))
code = [c for c in nb["cells"] if c["cell_type"] == "code"]
for i, cell in enumerate(code[:2]):
    cell["execution_count"] = i + 1
json.dump(nb, open("${lab}", "w"))
json.dump({"cells": [{"cell_type": "code", "execution_count": 7, "source": "1", "metadata": {}, "outputs": []}],
           "metadata": {}, "nbformat": 4, "nbformat_minor": 5},
          open("/student/student2/WKSHP-Sample/mine.ipynb", "w"))
shutil.chown("/student/student2/WKSHP-Sample/mine.ipynb", "student2", "student2")
EOF`);
    await host.sh("su student2 -c 'setsid sleep 1000 </dev/null >/dev/null 2>&1 &'");
    expect(await host.sh("pgrep -u student2 -a")).toContain("sleep 1000");

    const r = await release(host, "reg-a", 2);
    expect(r.code, r.stderr).toBe(0);
    const record = lastJson(r.stdout);
    expect(record).toMatchObject({
      registration: "reg-a", slot: 2, user: "student2", workshop: "WKSHP-Sample",
      codeCells: 4, executedCells: 2, completionRatio: 0.5,
      archive: "/var/lib/wod/archive/reg-a.tar.gz",
    });
    expect(new Date(record.releasedAt).getTime()).toBeGreaterThan(Date.now() - 120_000);
    expect(JSON.parse(await host.sh("cat /var/lib/wod/released/reg-a.json"))).toEqual(record);

    // The archive is the home as it was.
    const archived = JSON.parse(await host.sh(`tar -xzOf ${record.archive} student2/WKSHP-Sample/1-Lab.ipynb`));
    expect(archived.cells.filter((c: { execution_count: unknown }) => c.execution_count).length).toBe(2);
    expect((await host.sh(`tar -xzOf ${record.archive} student2/WKSHP-Sample/notes.txt`)).trim()).toBe("my notes");
    expect((await host.sh(`stat -c %a ${record.archive}`)).trim()).toBe("600");

    expect((await host.sh("ls -A /student/student2")).trim()).toBe("");
    expect((await host.sh("stat -c '%a %U' /student/student2")).trim()).toBe("700 student2");
    expect((await host.sh("passwd -S student2")).split(" ")[1]).toBe("L");
    expect((await new Browser(host.hubUrl).login("student2", password)).url).toBe("/hub/login");
    expect((await hubApi(host, token, "/users/student2")).json.servers).toEqual({});
    expect((await host.ssh("pgrep -u student2")).code).toBe(1);
    expect((await host.ssh("test -e /var/lib/wod/slots/student2.json")).code).not.toBe(0);
  }, 120_000);

  it("is safe to run twice: the same record, the archive untouched", async () => {
    const before = await host.sh("stat -c %Y:%s /var/lib/wod/archive/reg-a.tar.gz; cat /var/lib/wod/released/reg-a.json");
    await sleep(1100);
    const again = await release(host, "reg-a", 2);
    expect(again.code, again.stderr).toBe(0);
    expect(lastJson(again.stdout)).toEqual(JSON.parse(before.trim().split("\n")[1]));
    expect(await host.sh("stat -c %Y:%s /var/lib/wod/archive/reg-a.tar.gz; cat /var/lib/wod/released/reg-a.json")).toBe(before);
  });

  it("leaves the account alone when another registration holds the slot", async () => {
    const r = await release(host, "reg-never", 3);
    expect(r.code, r.stderr).toBe(0);
    expect(lastJson(r.stdout)).toMatchObject({ registration: "reg-never", archive: null, completionRatio: 0 });
    expect((await host.sh("passwd -S student3")).split(" ")[1]).toBe("P");
    expect((await host.sh("ls /student/student3")).trim()).toBe("WKSHP-Sample");
    expect((await hubApi(host, token, "/users/student3")).json.servers[""].ready).toBe(true);
  });

  it("resumes an interrupted release without archiving the wiped home over the real archive", async () => {
    // reg-d holds slot 5; a first release stopped right after archiving (record still partial).
    const first = await release(host, "reg-d", 5);
    expect(first.code).toBe(0);
    const archive = await host.sh("sha256sum /var/lib/wod/archive/reg-d.tar.gz");
    await host.sh(`mv /var/lib/wod/released/reg-d.json /var/lib/wod/released/reg-d.json.partial
      echo '{"registration":"reg-d","slot":5,"user":"student5","workshop":"WKSHP-Sample","workshopDir":"${WORKSHOP_DIR}","status":"active"}' > /var/lib/wod/slots/student5.json`);
    const resumed = await release(host, "reg-d", 5);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(lastJson(resumed.stdout)).toEqual(lastJson(first.stdout));
    expect(await host.sh("sha256sum /var/lib/wod/archive/reg-d.tar.gz")).toBe(archive);
    expect((await host.sh("tar -tzf /var/lib/wod/archive/reg-d.tar.gz")).split("\n")).toContain(
      "student5/WKSHP-Sample/0-ReadMeFirst.ipynb",
    );
  });
});
