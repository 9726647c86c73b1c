// The embedded PostgreSQL behind the quick start and the commands: it starts even when the port
// it probed is taken before the server binds it, and after a wod command was killed hard while
// its server ran. Failures are one line.
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { Client } from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { describeError } from "../infra/cli/exit";
import { openEmbedded } from "../infra/db/connect";
import { startEmbedded } from "../infra/db/embedded";
import { ROOT } from "../infra/load";

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
const dataDir = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "wod-embedded-"));
  fs.chmodSync(d, 0o755);
  dirs.push(d);
  return path.join(d, "pg");
};

const listen = (port = 0) =>
  new Promise<net.Server>((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(port, "127.0.0.1", () => resolve(srv));
  });

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe("the embedded PostgreSQL", () => {
  it("a port taken between the probe and the server's bind is retried with another port", async () => {
    const squatter = await listen();
    const taken = (squatter.address() as net.AddressInfo).port;
    const free = await listen();
    const spare = (free.address() as net.AddressInfo).port;
    await new Promise((r) => free.close(r));
    const offered = [taken, spare];
    const server = await startEmbedded(dataDir(), () => {}, { ports: async () => offered.shift()! });
    try {
      expect(server.port).toBe(spare);
      const c = new Client({ connectionString: server.url });
      await c.connect();
      expect((await c.query("select current_database() as db")).rows[0].db).toBe("wod");
      await c.end();
    } finally {
      await server.stop();
      squatter.close();
    }
  }, 120_000);

  it("after a wod command was killed hard while its server ran, the next command stops that server and starts", async () => {
    const dir = dataDir();
    // A command that opens the embedded database, says so, and is then killed with SIGKILL.
    const script = `require(${JSON.stringify(path.join(ROOT, "infra/db/connect.ts"))}).openEmbedded(${JSON.stringify(dir)}).then(() => console.log("open"))`;
    // node itself (not tsx's CLI, which would run the script in a grandchild the kill never reaches)
    const child = spawn(process.execPath, ["--require", "tsx/cjs", "-e", `${script}; setInterval(() => {}, 1000)`], { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] });
    await new Promise<void>((resolve, reject) => {
      child.stdout.on("data", (c) => String(c).includes("open") && resolve());
      child.once("exit", (code) => reject(new Error(`the first command exited early (${code})`)));
    });
    const orphan = Number(fs.readFileSync(path.join(dir, "postmaster.pid"), "utf8").split("\n")[0]);
    process.kill(child.pid!, "SIGKILL");
    await new Promise((r) => child.once("close", r));
    expect(alive(orphan)).toBe(true); // the killed command's server outlived it

    const messages: string[] = [];
    const db = await openEmbedded(dir, (m) => messages.push(m));
    try {
      expect((await db.pool.query("select 1 as one")).rows).toEqual([{ one: 1 }]);
      expect(messages).toContainEqual(expect.stringMatching(new RegExp(`stopping an embedded PostgreSQL \\(pid ${orphan}\\) left running`)));
      expect(alive(orphan)).toBe(false);
    } finally {
      await db.close();
    }
  }, 120_000);

  it("a server that cannot start is one line with PostgreSQL's own reason", async () => {
    const dir = dataDir();
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, "stray-file"), "not a database");
    await expect(openEmbedded(dir)).rejects.toThrow(/exists and is not a PostgreSQL data directory/);
  });

  it("whatever a library rejects with, a command prints one line (never reads .stack of undefined)", () => {
    expect(describeError(undefined)).toBe("failed without a reason (undefined; internal error)");
    expect(describeError("text")).toBe("failed without a reason (text; internal error)");
    expect(describeError(new Error("two\nlines"))).toBe("two | lines (internal error; WOD_DEBUG=1 prints the stack trace)");
  });
});
