// A throwaway Debian test host (see testhost.sh) and the ways the tests talk to it:
// SSH as root or as a learner, and HTTP to its JupyterHub like a learner's browser.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { randomBytes } from "node:crypto";

const here = resolve(__dirname);
export const fixtures = join(here, "fixtures");

export interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command locally; input goes to its stdin (how secrets travel). */
export function run(cmd: string, args: string[], input = "", timeoutMs = 600_000): Promise<Result> {
  return new Promise((done, fail) => {
    // testhost.sh stops hosts whose owner died without tearing them down.
    const env = { ...process.env, WOD_TESTHOST_OWNER: String(process.pid) };
    const child = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"], env });
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", fail);
    child.on("close", (code) => {
      clearTimeout(timer);
      done({ code: code ?? -1, stdout, stderr });
    });
    child.stdin.on("error", () => {}); // a command that ignores stdin may close it early
    child.stdin.end(input);
  });
}

export interface TestHost {
  addr: string;
  dir: string;
  /** The hub's public URL as a learner's browser reaches it. */
  hubUrl: string;
  /** Runs a shell command on the host over SSH (root unless `user`); never throws on exit codes. */
  ssh(command: string, opts?: { input?: string; user?: string; timeoutMs?: number }): Promise<Result>;
  /** Like ssh, but throws with the output when the command fails. */
  sh(command: string, input?: string): Promise<string>;
  /** Copies a local directory into the host (as the components upload workshop folders). */
  upload(localDir: string, remoteDir: string): Promise<void>;
  down(): Promise<void>;
}

export function sshOptions(dir: string, key: string, multiplex = true): string[] {
  return [
    "-i", key, "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
    "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10",
    // root's commands share one connection, as Ansible's do by default; a learner's each
    // log in afresh, as a person's do.
    ...(multiplex ? ["-o", "ControlMaster=auto", "-o", `ControlPath=${dir}/cm-%r`, "-o", "ControlPersist=120"] : []),
  ];
}

export interface TestHostOptions {
  /** The port the hub is served on (hubUrl). */
  hubPort?: number;
  /** Boot with systemd as init (systemd-nspawn), like a droplet, instead of sshd under tini. */
  systemd?: boolean;
}

export async function startTestHost({ hubPort = 8000, systemd = false }: TestHostOptions = {}): Promise<TestHost> {
  if (process.getuid?.() !== 0) throw new Error("host tests need root (namespaces, chroot)");
  const dir = mkdtempSync(join(tmpdir(), "wodth."));
  const up = await run("bash", [join(here, "testhost.sh"), "up", dir, ...(systemd ? ["--systemd"] : [])]);
  if (up.code !== 0) {
    await run("bash", [join(here, "testhost.sh"), "down", dir]); // what did start, stopped
    throw new Error(`test host did not start:\n${up.stderr}`);
  }
  const env = Object.fromEntries(
    readFileSync(join(dir, "env"), "utf8").trim().split("\n").map((l) => l.split("=") as [string, string]),
  );
  const addr = env.ADDR;
  const base = sshOptions(dir, env.KEY);
  const ssh: TestHost["ssh"] = (command, opts = {}) => {
    const user = opts.user ?? "root";
    const options = user === "root" ? base : sshOptions(dir, env.KEY, false);
    return run("ssh", [...options, `${user}@${addr}`, command], opts.input ?? "", opts.timeoutMs);
  };
  return {
    addr,
    dir,
    hubUrl: `http://${addr}:${hubPort}`,
    ssh,
    async sh(command, input) {
      const r = await ssh(command, { input });
      if (r.code !== 0) throw new Error(`${command} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
      return r.stdout;
    },
    async upload(localDir, remoteDir) {
      const tar = await run("bash", ["-c",
        `tar -C "$1" -cf - . | ssh ${base.map((a) => `'${a}'`).join(" ")} root@${addr} ` +
          `'mkdir -p "${remoteDir}" && tar -C "${remoteDir}" -xf - --no-same-owner'`, "_", localDir]);
      if (tar.code !== 0) throw new Error(`upload failed: ${tar.stderr}`);
    },
    async down() {
      await run("ssh", [...base, "-O", "exit", `root@${addr}`]);
      const r = await run("bash", [join(here, "testhost.sh"), "down", dir]);
      if (r.code !== 0) throw new Error(`test host teardown failed: ${r.stderr}`);
    },
  };
}

/** A random password like WoD's (8 characters), with punctuation to catch quoting bugs. */
export function newPassword(): string {
  return randomBytes(6).toString("base64").replace(/[+/]/g, "x") + "$'";
}

export const hubToken = () => randomBytes(24).toString("hex");

/** A learner's browser: keeps cookies (by name and path) and follows redirects itself. */
export class Browser {
  private cookies = new Map<string, { name: string; value: string; path: string }>();
  /** Every URL visited by the last request, redirects included. */
  trail: string[] = [];

  constructor(private base: string) {}

  private cookieHeader(path: string): string {
    return [...this.cookies.values()]
      .filter((c) => path.startsWith(c.path))
      .map((c) => `${c.name}=${c.value}`)
      .join("; ");
  }

  private keep(res: Response, path: string) {
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(";").map((s) => s.trim());
      const eq = pair.indexOf("=");
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1).replace(/^"|"$/g, "");
      const attr = (n: string) => attrs.find((a) => a.toLowerCase().startsWith(n + "="))?.split("=")[1];
      const cookiePath = attr("path") ?? path.replace(/\/[^/]*$/, "/");
      const expired = attr("max-age") === "0" || /1970/.test(attr("expires") ?? "");
      const key = `${name};${cookiePath}`;
      if (expired) this.cookies.delete(key);
      else this.cookies.set(key, { name, value, path: cookiePath });
    }
  }

  cookie(name: string): string | undefined {
    return [...this.cookies.values()].find((c) => c.name === name)?.value;
  }

  /** GET or POST (form), following redirects; returns the final response and its body. */
  async request(path: string, form?: Record<string, string>): Promise<{ status: number; url: string; body: string }> {
    let url = new URL(path, this.base);
    let method = form ? "POST" : "GET";
    let body: string | undefined = form ? new URLSearchParams(form).toString() : undefined;
    this.trail = [];
    for (let hops = 0; hops < 20; hops++) {
      this.trail.push(url.pathname + url.search);
      const headers: Record<string, string> = { cookie: this.cookieHeader(url.pathname) };
      if (body) headers["content-type"] = "application/x-www-form-urlencoded";
      const xsrf = this.cookie("_xsrf");
      if (xsrf && method === "POST") headers["x-xsrftoken"] = xsrf;
      const res = await fetch(url, { method, body, headers, redirect: "manual", signal: AbortSignal.timeout(60_000) });
      this.keep(res, url.pathname);
      const location = res.headers.get("location");
      if (res.status >= 300 && res.status < 400 && location) {
        url = new URL(location, url);
        method = "GET";
        body = undefined;
        continue;
      }
      return { status: res.status, url: url.pathname + url.search, body: await res.text() };
    }
    throw new Error(`too many redirects: ${this.trail.join(" -> ")}`);
  }

  /** A JSON POST to the hub's API with this browser's session (cookies and the _xsrf header), as its pages make. */
  async api(path: string, body: unknown): Promise<{ status: number; json: unknown }> {
    const url = new URL(path, this.base);
    // JupyterHub 3 accepts a cookie-authenticated API call only from its own pages (Referer).
    const headers: Record<string, string> = { cookie: this.cookieHeader(url.pathname), "content-type": "application/json", referer: new URL("/hub/token", this.base).href };
    const xsrf = this.cookie("_xsrf");
    if (xsrf) headers["x-xsrftoken"] = xsrf;
    const res = await fetch(url, { method: "POST", headers, body: JSON.stringify(body), signal: AbortSignal.timeout(60_000) });
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) : null };
  }

  /**
   * JupyterHub 3's login form: GET it for the _xsrf token, then POST the credentials. When the
   * hub starts the learner's server at login, waits on its spawn-pending page as a browser's
   * script does, until the hub sends it on to the server.
   */
  async login(username: string, password: string) {
    const page = await this.request("/hub/login");
    const xsrf = /name="_xsrf" value="([^"]+)"/.exec(page.body)?.[1];
    const form: Record<string, string> = { username, password };
    if (xsrf) form._xsrf = xsrf;
    let landed = await this.request("/hub/login", form);
    const deadline = Date.now() + 180_000;
    while (landed.url.startsWith("/hub/spawn-pending/") && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      landed = await this.request(landed.url);
    }
    return landed;
  }
}

/** The platform's constants in these tests: uid = gid = slot + 2000, hub on port 8000. */
export const UID_OFFSET = 2000;
export const WORKSHOP_DIR = "/opt/wod/workshops/WKSHP-Sample/c0ffee";

export function bootstrap(host: TestHost, token: string, slotMin = 1, slotMax = 5, hubPort = 8000) {
  return host.ssh(
    `/opt/wod/bin/bootstrap-backend.sh --slot-min ${slotMin} --slot-max ${slotMax} ` +
      `--uid-offset ${UID_OFFSET} --hub-port ${hubPort}`,
    { input: token + "\n" },
  );
}

/** What the sample workshop's notebooks read, as a cohort's stdin carries it. */
export const SAMPLE_VARIABLES = { WODBEEXTFQDN: "wod.example.org", WODBEFQDN: "wod.example.org", WODBEPORT: "8000", WODBEURL: "http://wod.example.org:8000", BRANDING: "Sample" };

/**
 * One cohort's sync, by hand, as the StudentCohort component runs it: the slot table on stdin
 * (each slot's registration and password), `--start-servers` and the like in `flags`. The
 * sample workshop must be at WORKSHOP_DIR.
 */
export function syncCohort(host: TestHost, slots: Record<number, { registration: string; password: string }>, flags = "") {
  const table = Object.fromEntries(Object.entries(slots).map(([slot, e]) => [slot, {
    registration: e.registration, generation: 1, password: e.password, variables: { ...SAMPLE_VARIABLES, PASSSTU: e.password },
  }]));
  return host.ssh(
    `python3 /opt/wod/bin/sync-cohort.py --cohort sample --workshop-dir ${WORKSHOP_DIR} --uid-offset ${UID_OFFSET} ${flags}`,
    { input: JSON.stringify({ variables: {}, slots: table }), timeoutMs: 1_800_000 },
  );
}

/** The hub API as the platform calls it, with the `wod` service token. */
export async function hubApi(host: TestHost, token: string | null, path: string, method = "GET") {
  const res = await fetch(`${host.hubUrl}/hub/api${path}`, {
    method,
    headers: token ? { authorization: `token ${token}` } : {},
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
}
