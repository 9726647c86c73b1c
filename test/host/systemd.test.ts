// bootstrap-backend.sh on a test host booted with systemd as init, the branch real droplets
// take: the wod-jupyterhub unit, restarts only on a new token, fail2ban reading the journal,
// and a reboot.
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hostScript } from "../../components/remote";
import {
  Browser, UID_OFFSET, WORKSHOP_DIR, syncCohort, fixtures, hubApi, hubToken, newPassword, sshOptions, run,
  startTestHost, type TestHost,
} from "./testhost";

let host: TestHost;
let token = hubToken();

/** The bootstrap exactly as the JupyterHubBackend component runs it: through bash, token on stdin. */
const bootstrapAsComponent = (secret: string) =>
  host.ssh(
    hostScript("bootstrap-backend.sh", ["--slot-min", 1, "--slot-max", 3, "--uid-offset", UID_OFFSET, "--hub-port", 8000]),
    { input: secret + "\n" },
  );

/** Polls probe until ok(value) or the deadline; fails with the last value seen. */
async function waitFor<T>(what: string, probe: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  let error: unknown;
  while (Date.now() < deadline) {
    try {
      last = await probe();
      if (ok(last)) return last;
    } catch (e) {
      error = e; // the host may be rebooting, the hub restarting
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last)} ${error ?? ""}`);
}

const unit = async (property: string, name = "wod-jupyterhub") =>
  (await host.sh(`systemctl show -p ${property} --value ${name}`)).trim();
const failedIn = async (jail: string) =>
  Number(/Total failed:\s+(\d+)/.exec((await host.ssh(`fail2ban-client status ${jail}`)).stdout)?.[1] ?? NaN);
const jails = async () =>
  /Jail list:\s*(.*)/.exec((await host.ssh("fail2ban-client status")).stdout)?.[1]?.split(/,\s*/).sort() ?? [];
const learnerServer = async () => (await hubApi(host, token, "/users/student1")).json?.servers?.[""];

beforeAll(async () => {
  const started = Date.now();
  host = await startTestHost({ systemd: true });
  console.log(`systemd test host booted in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  const r = await bootstrapAsComponent(token);
  expect(r.code, r.stderr).toBe(0);
  await host.upload(join(fixtures, "WKSHP-Sample"), WORKSHOP_DIR);
}, 900_000);

afterAll(async () => {
  await host?.down();
}, 180_000);

describe("bootstrap-backend.sh on a systemd host", () => {
  it("runs on a host whose init is systemd, so it takes the systemd branch", async () => {
    expect((await host.sh("ps -o comm= -p 1")).trim()).toBe("systemd");
    expect((await host.ssh("test -d /run/systemd/system")).code).toBe(0);
    expect((await host.ssh("test -e /run/wod-jupyterhub.pid")).code).not.toBe(0);
  });

  it("runs the hub as the enabled, active wod-jupyterhub unit, answering on the hub port", async () => {
    expect((await host.sh("systemctl is-enabled wod-jupyterhub")).trim()).toBe("enabled");
    expect((await host.sh("systemctl is-active wod-jupyterhub")).trim()).toBe("active");
    const version = await hubApi(host, null, "/");
    expect(version.status).toBe(200);
    expect(version.json.version).toMatch(/^3\./);
    // Answered by our hub (it knows the platform's token), never by Debian's own jupyterhub.service.
    expect((await hubApi(host, token, "/users")).status).toBe(200);
    expect((await host.ssh("systemctl is-active jupyterhub.service")).stdout.trim()).not.toBe("active");
  });

  it("serves learners the hub's login page", async () => {
    const page = await new Browser(host.hubUrl).request("/hub/login");
    expect(page.status).toBe(200);
    expect(page.url).toBe("/hub/login");
    expect(page.body).toContain('name="password"');
  });

  it("a re-run with the same token leaves the hub running (same main PID)", async () => {
    const pid = await unit("MainPID");
    const restarts = await unit("NRestarts");
    const again = await bootstrapAsComponent(token);
    expect(again.code, again.stderr).toBe(0);
    expect(await unit("MainPID")).toBe(pid);
    expect(await unit("NRestarts")).toBe(restarts);
  });

  it("a new token restarts the hub: it works, the old one is refused, learners' servers keep running", async () => {
    await host.upload(join(fixtures, "WKSHP-Sample"), WORKSHOP_DIR);
    const a = await syncCohort(host, { 1: { registration: "reg-sd", password: newPassword() } }, "--start-servers");
    expect(a.code, a.stderr).toBe(0);
    const server = await learnerServer();
    expect(server?.ready).toBe(true);
    const serverPid = (await host.sh("pgrep -u student1 -f jupyterhub-singleuser")).trim();
    const hubPid = await unit("MainPID");

    const rotated = hubToken();
    const r = await bootstrapAsComponent(rotated);
    expect(r.code, r.stderr).toBe(0);
    expect(await unit("MainPID")).not.toBe(hubPid);
    expect((await hubApi(host, rotated, "/users")).status).toBe(200);
    expect([401, 403]).toContain((await hubApi(host, token, "/users")).status);
    token = rotated;

    // The learner's server was not part of the restart: same process, still known to the hub.
    expect((await host.sh("pgrep -u student1 -f jupyterhub-singleuser")).trim()).toBe(serverPid);
    expect((await learnerServer())?.ready).toBe(true);
  }, 180_000);

  it("runs fail2ban with the hub's jail, and its sshd jail reads the journal", async () => {
    expect((await host.sh("systemctl is-active fail2ban")).trim()).toBe("active");
    expect(await jails()).toEqual(["sshd", "wod-jupyterhub"]);
    expect(await host.sh("fail2ban-client status sshd")).toContain("Journal matches:");

    // Failed SSH logins reach the sshd jail through the journal (no /var/log/auth.log here).
    expect((await host.ssh("test -e /var/log/auth.log")).code).not.toBe(0);
    const sshBefore = await failedIn("sshd");
    const stranger = await run("ssh", [...sshOptions(host.dir, join(host.dir, "key"), false), `nobody-here@${host.addr}`, "true"]);
    expect(stranger.code).not.toBe(0);
    await waitFor("the sshd jail to count the failed login", () => failedIn("sshd"), (n) => n > sshBefore);

    // Failed hub logins reach the hub's jail through the hub's log.
    const hubBefore = await failedIn("wod-jupyterhub");
    await new Browser(host.hubUrl).login("student2", "not-the-password");
    await waitFor("the wod-jupyterhub jail to count the failed login", () => failedIn("wod-jupyterhub"), (n) => n === hubBefore + 1);
  });

  it("fails, saying so, when fail2ban cannot start (here: no python3-systemd to read the journal)", async () => {
    const module = "/usr/lib/python3/dist-packages/systemd";
    await host.sh(`systemctl stop fail2ban && mv ${module} /root/python3-systemd.hidden`);
    try {
      const r = await bootstrapAsComponent(token);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain("fail2ban did not start");
    } finally {
      await host.sh(`mv /root/python3-systemd.hidden ${module}`);
    }
    const r = await bootstrapAsComponent(token);
    expect(r.code, r.stderr).toBe(0);
    expect(await jails()).toEqual(["sshd", "wod-jupyterhub"]);
  }, 120_000);

  it("comes back by itself after a reboot: hub, token, fail2ban and the metadata guard", async () => {
    await host.sh("touch /run/wod-before-reboot"); // /run is a tmpfs: gone after a real reboot
    await host.ssh("systemctl reboot", { timeoutMs: 30_000 }); // the connection drops
    await waitFor(
      "the host to reboot and finish booting",
      () => host.ssh("test ! -e /run/wod-before-reboot && systemctl is-system-running --wait", { timeoutMs: 30_000 }),
      (r) => r.code === 0 || /^degraded/.test(r.stdout),
      180_000,
    );
    const failed = await host.sh("systemctl --failed --no-legend");
    expect((await host.ssh("systemctl is-system-running")).stdout.trim(), failed).toBe("running");
    expect((await host.sh("systemctl is-active wod-jupyterhub fail2ban wod-metadata-guard")).trim().split("\n")).toEqual(["active", "active", "active"]);
    // A reboot empties the firewall: the guard's unit put learners' rule back.
    expect(await host.sh("iptables -w -S WOD-METADATA")).toMatch(/--uid-owner \d+-\d+ -j REJECT/);
    await waitFor("the hub to answer with the platform's token", () => hubApi(host, token, "/users"), (r) => r.status === 200);
    expect([401, 403]).toContain((await hubApi(host, hubToken(), "/users")).status);
    expect((await new Browser(host.hubUrl).request("/hub/login")).body).toContain('name="password"');
    await waitFor("fail2ban's jails", jails, (j) => j.join() === "sshd,wod-jupyterhub");
  }, 300_000);
});
