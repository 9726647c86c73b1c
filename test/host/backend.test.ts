// bootstrap-backend.sh on a real Debian host: slot users, host baseline, JupyterHub.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hostKeyFor } from "../../components/hostKeys";
import { sshReader } from "../../infra/reconcile/host-facts";
import { Browser, bootstrap, hubApi, hubToken, startTestHost, type TestHost } from "./testhost";

let host: TestHost;
let token = hubToken();

beforeAll(async () => {
  host = await startTestHost();
  const r = await bootstrap(host, token);
  expect(r.code, r.stderr).toBe(0);
}, 900_000);

afterAll(async () => {
  await host?.down();
}, 120_000);

describe("bootstrap-backend.sh", () => {
  it("creates locked slot users student1..5 with uid = gid = slot + offset, group students, home 0700", async () => {
    for (let n = 1; n <= 5; n++) {
      const passwd = (await host.sh(`getent passwd student${n}`)).trim().split(":");
      expect(passwd[2]).toBe(String(2000 + n));
      expect(passwd[3]).toBe(String(2000 + n));
      expect(passwd[5]).toBe(`/student/student${n}`);
      expect((await host.sh(`getent group student${n}`)).split(":")[2]).toBe(String(2000 + n));
      expect((await host.sh(`id -nG student${n}`)).trim().split(" ")).toContain("students");
      expect((await host.sh(`stat -c '%a %U %G' /student/student${n}`)).trim()).toBe(`700 student${n} student${n}`);
      expect((await host.sh(`passwd -S student${n}`)).split(" ")[1]).toBe("L");
    }
    expect((await host.ssh("getent passwd student6")).code).not.toBe(0);
  });

  it("a locked slot user cannot log in to the hub", async () => {
    const page = await new Browser(host.hubUrl).login("student1", "");
    expect(page.url).toBe("/hub/login");
    expect(page.body).toContain("Invalid username or password");
  });

  it("persists the sysctl baseline and applies what the kernel lets this host set", async () => {
    const conf = await host.sh("cat /etc/sysctl.d/60-wod.conf");
    for (const line of [
      "net.ipv4.tcp_keepalive_time = 1800",
      "kernel.threads-max = 4096000",
      "kernel.pid_max = 200000",
      "vm.max_map_count = 600000",
    ]) {
      expect(conf).toContain(line);
    }
    // Per network namespace, so the test host may set it; the kernel-wide ones are read-only here.
    expect((await host.sh("sysctl -n net.ipv4.tcp_keepalive_time")).trim()).toBe("1800");
  });

  it("raises nofile to 65535 for every login through pam_limits", async () => {
    const limits = await host.sh("cat /etc/security/limits.d/60-wod.conf");
    expect(limits).toMatch(/^\*\s+soft\s+nofile\s+65535$/m);
    expect(limits).toMatch(/^\*\s+hard\s+nofile\s+65535$/m);
    expect(await host.sh("cat /etc/pam.d/sshd /etc/pam.d/common-session 2>/dev/null")).toMatch(/^session\s+required\s+pam_limits\.so/m);
  });

  it("runs a fail2ban jail that counts the hub's failed logins", async () => {
    const jail = await host.sh("cat /etc/fail2ban/jail.d/wod-jupyterhub.conf");
    expect(jail).toMatch(/port\s*=\s*8000/);
    expect(jail).toMatch(/logpath\s*=\s*\/var\/log\/jupyterhub\.log/);
    const failed = async () => Number(/Total failed:\s+(\d+)/.exec(await host.sh("fail2ban-client status wod-jupyterhub"))?.[1]);
    await new Promise((r) => setTimeout(r, 2000)); // the jail polls the hub's log about once a second
    const before = await failed();
    for (let i = 0; i < 2; i++) await new Browser(host.hubUrl).login("student2", "not-the-password");
    let after = before;
    for (let i = 0; i < 40 && after < before + 2; i++) {
      await new Promise((r) => setTimeout(r, 250));
      after = await failed();
    }
    expect(after).toBe(before + 2);
  });

  it("serves JupyterHub on the hub port with the wod service holding admin rights", async () => {
    const version = await hubApi(host, null, "/");
    expect(version.status).toBe(200);
    expect(version.json.version).toMatch(/^3\./);
    expect((await hubApi(host, null, "/users")).status).toBe(403);
    const users = await hubApi(host, token, "/users");
    expect(users.status).toBe(200);
    expect((await hubApi(host, "wrong-token", "/users")).status).toBe(403);
    const login = await new Browser(host.hubUrl).request("/hub/login");
    expect(login.body).toContain('name="password"');
    // The token is readable by root only.
    expect((await host.sh("stat -c '%a %U' /etc/wod/hub-token")).trim()).toBe("600 root");
  });

  it("is safe to run twice: same users, the hub keeps running unless its token changes", async () => {
    const pid = (await host.sh("cat /run/wod-jupyterhub.pid")).trim();
    const again = await bootstrap(host, token);
    expect(again.code, again.stderr).toBe(0);
    expect((await host.sh("cat /run/wod-jupyterhub.pid")).trim()).toBe(pid);
    expect((await host.sh("getent passwd | grep -c '^student'")).trim()).toBe("5");
    expect((await host.sh("grep -c . /etc/fail2ban/jail.d/wod-jupyterhub.conf")).trim()).toBe("9");

    const rotated = hubToken();
    const r = await bootstrap(host, rotated);
    expect(r.code, r.stderr).toBe(0);
    expect((await hubApi(host, token, "/users")).status).toBe(403);
    expect((await hubApi(host, rotated, "/users")).status).toBe(200);
    token = rotated;
  });

  it("grows the slot pool without touching existing slots", async () => {
    await host.sh("touch /student/student1/keep && chown student1: /student/student1/keep");
    const r = await bootstrap(host, token, 1, 7);
    expect(r.code, r.stderr).toBe(0);
    expect((await host.sh("id -u student7")).trim()).toBe("2007");
    expect((await host.ssh("test -f /student/student1/keep")).code).toBe(0);
  });

  it("refuses bad flags and an empty token", async () => {
    const noToken = await host.ssh(
      "/opt/wod/bin/bootstrap-backend.sh --slot-min 1 --slot-max 5 --uid-offset 2000 --hub-port 8000",
    );
    expect(noToken.code).not.toBe(0);
    expect(noToken.stderr).toContain("secret on stdin");
    const bad = await host.ssh(
      "/opt/wod/bin/bootstrap-backend.sh --slot-min 5 --slot-max 1 --uid-offset 2000 --hub-port 8000",
      { input: token + "\n" },
    );
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("--slot-min must not exceed --slot-max");
  });
});

describe("the cloud's metadata service", () => {
  // A stand-in on the test host at the address DigitalOcean and EC2 serve it from.
  beforeAll(async () => {
    await host.sh("ip addr replace 169.254.169.254/32 dev lo && mkdir -p /srv/md && echo user-data >/srv/md/user-data && " +
      "cd /srv/md && setsid -f python3 -m http.server --bind 169.254.169.254 80 </dev/null >/dev/null 2>&1 && " +
      "for i in $(seq 100); do curl -fs -o /dev/null http://169.254.169.254/user-data && exit 0; sleep 0.1; done; exit 1");
  }, 60_000);

  it("answers root, never a learner: its user data holds the machine's host key", async () => {
    expect(await host.sh("curl -fsS -m 5 http://169.254.169.254/user-data")).toBe("user-data\n");
    const learner = await host.ssh("runuser -u student2 -- curl -fsS -m 5 http://169.254.169.254/user-data");
    expect(learner.code).not.toBe(0);
    expect(learner.stdout).not.toContain("user-data");
  });
});

describe("a machine's derived host key", () => {
  // What cloud-init does with `ssh_keys` (components/hostKeys.ts): the PEM becomes sshd's host key.
  // A second sshd on the test host serves with that key alone, as a machine wod created does.
  const seed = "a-stack-host-key-seed-of-48-characters-0123456789";
  const key = hostKeyFor(seed, "eu-hub");
  let reader: ReturnType<typeof sshReader>;
  beforeAll(async () => {
    await host.sh("umask 077 && cat >/etc/ssh/wod_pinned_key && /usr/sbin/sshd -p 2222 -h /etc/ssh/wod_pinned_key -o PidFile=/run/sshd-pinned.pid", key.privatePem);
    const env = readFileSync(join(host.dir, "env"), "utf8");
    reader = sshReader({ keyFile: /^KEY=(.*)$/m.exec(env)![1], port: 2222 });
  }, 120_000);
  afterAll(async () => {
    await host?.ssh("kill $(cat /run/sshd-pinned.pid)");
  });

  it("is a key OpenSSH serves, and a pinned read reaches the machine holding it", async () => {
    expect((await host.sh("ssh-keygen -y -f /etc/ssh/wod_pinned_key")).trim()).toBe(key.publicKey);
    expect((await reader.read(host.addr, "echo reached", key.publicKey)).trim()).toBe("reached");
  });

  it("a machine presenting any other key is refused before a command runs", async () => {
    const other = hostKeyFor(seed, "us-hub").publicKey;
    await expect(reader.read(host.addr, "touch /tmp/ran-on-impostor", other)).rejects.toThrow(/verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED/i);
    expect((await host.ssh("test -e /tmp/ran-on-impostor")).code).not.toBe(0);
  });
});
