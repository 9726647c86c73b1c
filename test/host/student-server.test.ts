// Scripts for machines other than the hub: the login monitor of student servers and the
// per-student setup of workshop appliances, on a real Debian host over real SSH.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fixtures, newPassword, startTestHost, type TestHost } from "./testhost";

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

  beforeAll(async () => {
    // A learner account that logs in with the run's key, as on a student server.
    const pub = readFileSync(join(host.dir, "key.pub"), "utf8");
    await host.sh(`useradd -m -s /bin/bash learner
      install -d -m 700 -o learner -g learner ~learner/.ssh
      cat > ~learner/.ssh/authorized_keys && chown learner: ~learner/.ssh/authorized_keys`, pub);
  });

  it("records a learner's SSH login as one ISO-8601 UTC line", async () => {
    // cloud-init may write the scripts without modes: the installer makes its hook runnable.
    await host.sh("chmod -x /opt/wod/bin/record-ssh-login.sh");
    const r = await host.ssh("/opt/wod/bin/install-login-monitor.sh");
    expect(r.code, r.stderr).toBe(0);
    expect((await host.ssh("test -e /var/lib/wod/last-ssh-login")).code).not.toBe(0);

    const before = Date.now();
    expect((await host.ssh("whoami", { user: "learner" })).stdout.trim()).toBe("learner");
    const line = await lastLogin();
    expect(line).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\n$/);
    const at = Date.parse(line.trim());
    expect(at).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 - 2000);
    expect(at).toBeLessThanOrEqual(Date.now() + 2000);
  });

  it("updates on every learner login but not on the platform's own root logins", async () => {
    const first = await lastLogin();
    await sleep(1100);
    await host.sh("true"); // root, as the reconcile job logs in
    expect(await lastLogin()).toBe(first);
    await host.ssh("true", { user: "learner" });
    expect(Date.parse((await lastLogin()).trim())).toBeGreaterThan(Date.parse(first.trim()));
  });

  it("is safe to install twice (one PAM hook)", async () => {
    expect((await host.ssh("/opt/wod/bin/install-login-monitor.sh")).code).toBe(0);
    expect((await host.sh("grep -c record-ssh-login /etc/pam.d/sshd")).trim()).toBe("1");
  });
});

describe("appliance-student.sh", () => {
  const pw = newPassword();
  const script = "/opt/wod/appliances/student.sh";

  beforeAll(async () => {
    await host.upload(join(fixtures, "appliance"), "/opt/wod/appliances");
  });

  const runScript = (action: string, password: string) =>
    host.ssh(`/opt/wod/bin/appliance-student.sh ${action} --slot 7 --script ${script} --port web=10007 --port ssh=20007`, {
      input: password + "\n",
    });

  it("setup creates the student with the password and runs the workshop's script with slot and ports", async () => {
    const r = await runScript("setup", pw);
    expect(r.code, r.stderr).toBe(0);
    expect(await host.sh("cat /var/lib/wod-test-appliance/student7.env")).toBe(
      ["action=setup", "STDID=7", "USERNAME=student7", "PORT_SSH=20007", "PORT_WEB=10007", `password_length=${pw.length}`, ""].join("\n"),
    );
    expect((await host.sh("id -nG student7")).trim().split(" ")).toContain("students");
    expect((await host.sh("stat -c '%a %U' /student/student7")).trim()).toBe("700 student7");
    // The account's hash is the password's (checked with the secret on stdin).
    const check = await host.ssh(
      `python3 -c 'import crypt, spwd, sys; h = spwd.getspnam("student7").sp_pwdp; sys.exit(crypt.crypt(sys.stdin.readline().rstrip("\\n"), h) != h)' 2>/dev/null`,
      { input: pw + "\n" },
    );
    expect(check.code).toBe(0);
  });

  it("reset wipes the student's home and processes, then runs the script again", async () => {
    await host.sh("su student7 -c 'touch ~/leftover; setsid sleep 1000 </dev/null >/dev/null 2>&1 &'");
    const r = await runScript("reset", pw);
    expect(r.code, r.stderr).toBe(0);
    expect(await host.sh("cat /var/lib/wod-test-appliance/student7.env")).toContain("action=reset");
    expect((await host.ssh("test -e /student/student7/leftover")).code).not.toBe(0);
    expect((await host.ssh("pgrep -u student7")).code).toBe(1);
  });

  it("refuses an unknown action and a missing password", async () => {
    expect((await runScript("destroy", pw)).code).not.toBe(0);
    const none = await runScript("setup", "");
    expect(none.code).not.toBe(0);
    expect(none.stderr).toContain("secret on stdin");
  });
});
