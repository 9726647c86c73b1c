// Scripts for machines other than the hub: the login monitor of student servers and the
// student sync of workshop appliances, on a real Debian host over real SSH.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fixtures, newPassword, run, sshOptions, startTestHost, type TestHost } from "./testhost";

let host: TestHost;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  host = await startTestHost();
}, 900_000);

afterAll(async () => {
  await host?.down();
}, 120_000);

describe("install-login-monitor.sh", () => {
  const lastLogin = async () => (await host.ssh("cat /var/lib/wod/last-ssh-login")).stdout;
  let learnerKey: string;
  let adminKey: string;
  /** A fresh SSH login (no multiplexing: each opens a PAM session) with one key. */
  const login = (key: string, user = "root") => run("ssh", [...sshOptions(host.dir, key, false), `${user}@${host.addr}`, "true"]);

  beforeAll(async () => {
    // As cloud-init sets a student server up: the learner's key on root, the admins' keys too, and
    // /etc/wod/learner-key naming the learner's key.
    learnerKey = join(host.dir, "learner");
    adminKey = join(host.dir, "admin");
    for (const k of [learnerKey, adminKey]) await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", k]);
    const [learnerPub, adminPub] = [learnerKey, adminKey].map((k) => readFileSync(`${k}.pub`, "utf8"));
    await host.sh("cat >> /root/.ssh/authorized_keys", learnerPub + adminPub);
    await host.sh("mkdir -p /etc/wod && cat > /etc/wod/learner-key", learnerPub);
    await host.sh(`useradd -m -s /bin/bash ubuntu && install -d -m 700 -o ubuntu -g ubuntu ~ubuntu/.ssh
      cat > ~ubuntu/.ssh/authorized_keys && chown ubuntu: ~ubuntu/.ssh/authorized_keys`, learnerPub);
  });

  it("records a login with the learner's key on root — where DigitalOcean puts it — as one ISO-8601 UTC line", async () => {
    // cloud-init may write the scripts without modes: the installer makes its hook runnable.
    await host.sh("chmod -x /opt/wod/bin/record-ssh-login.sh");
    const r = await host.ssh("/opt/wod/bin/install-login-monitor.sh");
    expect(r.code, r.stderr).toBe(0);
    expect((await host.ssh("test -e /var/lib/wod/last-ssh-login")).code).not.toBe(0);

    const before = Date.now();
    expect((await login(learnerKey)).code).toBe(0);
    const line = await lastLogin();
    expect(line).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\n$/);
    const at = Date.parse(line.trim());
    expect(at).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 - 2000);
    expect(at).toBeLessThanOrEqual(Date.now() + 2000);
  });

  it("counts the learner's key on any account, and never an admin's or the platform's own logins", async () => {
    const first = await lastLogin();
    await sleep(1100);
    expect((await login(adminKey)).code).toBe(0);
    expect((await login(join(host.dir, "key"))).code).toBe(0); // the platform's key, as the reconcile logs in
    expect(await lastLogin()).toBe(first);
    expect((await login(learnerKey, "ubuntu")).code).toBe(0);
    expect(Date.parse((await lastLogin()).trim())).toBeGreaterThan(Date.parse(first.trim()));
  });

  it("is safe to install twice (one PAM hook), and refuses to run without the learner's key", async () => {
    expect((await host.ssh("/opt/wod/bin/install-login-monitor.sh")).code).toBe(0);
    expect((await host.sh("grep -c record-ssh-login /etc/pam.d/sshd")).trim()).toBe("1");
    const without = await host.ssh("mv /etc/wod/learner-key /etc/wod/k && /opt/wod/bin/install-login-monitor.sh; s=$?; mv /etc/wod/k /etc/wod/learner-key; exit $s");
    expect(without.code).not.toBe(0);
    expect(without.stderr).toContain("learner-key is missing");
  });
});

describe("sync-appliance.py", () => {
  const script = "/opt/wod/appliances/student.sh";
  const table = (slots: Record<string, { registration: string; password: string; ports: Record<string, number> }>) =>
    JSON.stringify({ slots: Object.fromEntries(Object.entries(slots).map(([slot, e]) => [slot, { ...e, generation: 1 }])) });
  const sync = (input: string, flags = "") =>
    host.ssh(`python3 /opt/wod/bin/sync-appliance.py --appliance lab-WKSHP-Docker --script ${script} --uid-offset 2000 ${flags}`, { input });
  const pw = newPassword();

  beforeAll(async () => {
    await host.upload(join(fixtures, "appliance"), "/opt/wod/appliances");
  });

  it("gives a new student their account with the password and runs the workshop's script with slot and ports; what it produces comes back", async () => {
    const r = await sync(table({ "7": { registration: "501", password: pw, ports: { web: 10007, ssh: 20007 } } }));
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).slots["7"]).toEqual({ registration: "501", generation: 1, status: "active", values: { LABTOK: "token-for-7" } });
    expect(await host.sh("cat /var/lib/wod-test-appliance/student7.env")).toBe(
      ["action=setup", "STDID=7", "USERNAME=student7", "PORT_SSH=20007", "PORT_WEB=10007", `password_length=${pw.length}`, ""].join("\n"),
    );
    expect((await host.sh("id -nG student7")).trim().split(" ")).not.toContain("docker");
    expect((await host.sh("stat -c '%a %U' /student/student7")).trim()).toBe("700 student7");
    // The account's hash is the password's (checked with the secret on stdin).
    const check = await host.ssh(
      `python3 -c 'import crypt, spwd, sys; h = spwd.getspnam("student7").sp_pwdp; sys.exit(crypt.crypt(sys.stdin.readline().rstrip("\\n"), h) != h)' 2>/dev/null`,
      { input: pw + "\n" },
    );
    expect(check.code).toBe(0);
    expect(r.stderr).not.toContain(pw);
  });

  it("leaves an unchanged student alone and still reports their values", async () => {
    await host.sh("su student7 -c 'touch ~/work'");
    const r = await sync(table({ "7": { registration: "501", password: pw, ports: { web: 10007, ssh: 20007 } } }));
    expect(JSON.parse(r.stdout)).toMatchObject({ summary: { unchanged: 1 }, slots: { "7": { values: { LABTOK: "token-for-7" } } } });
    expect((await host.ssh("test -e /student/student7/work")).code).toBe(0);
  });

  it("releases a student who left, reset or not: account locked, processes and home gone, the script told to release", async () => {
    await host.sh("su student7 -c 'setsid sleep 1000 </dev/null >/dev/null 2>&1 &'");
    const r = await sync(table({}));
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).released).toMatchObject([{ registration: "501", slot: 7 }]);
    expect(await host.sh("cat /var/lib/wod-test-appliance/student7.env")).toContain("action=release");
    expect((await host.sh("passwd -S student7")).split(" ")[1]).toBe("L");
    expect((await host.ssh("pgrep -u student7")).code).toBe(1);
    expect((await host.sh("ls -A /student/student7")).trim()).toBe("");
    // A reset workshop tells the script to reset instead.
    await sync(table({ "7": { registration: "502", password: pw, ports: { web: 10007, ssh: 20007 } } }), "--reset");
    await sync(table({}), "--reset");
    expect(await host.sh("cat /var/lib/wod-test-appliance/student7.env")).toContain("action=reset");
  });

  it("on a backend (existing location) runs only the script and leaves the slot's account to the backend", async () => {
    await host.sh("passwd -S student7 >/dev/null && usermod -U -e '' student7 2>/dev/null || true");
    const before = (await host.sh("passwd -S student7")).split(" ")[1];
    const r = await sync(table({ "7": { registration: "503", password: pw, ports: { web: 10007, ssh: 20007 } } }), "--on-backend");
    expect(r.code, r.stderr).toBe(0);
    await sync(table({}), "--on-backend");
    expect((await host.sh("passwd -S student7")).split(" ")[1]).toBe(before);
    expect(await host.sh("cat /var/lib/wod-test-appliance/student7.env")).toContain("action=release");
  });
});
