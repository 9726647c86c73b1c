import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as path from "node:path";
import * as zlib from "node:zlib";
import { parse as parseYaml } from "yaml";
import { beforeAll, describe, expect, it } from "vitest";
import { T, byType, installMocks, settle, valueOf } from "./mocks";
import { ADMIN_KEY, HOST_DIR, config, desired, server, sshKey } from "./fixtures";
import type { DesiredStudentServer } from "../../infra/desired/types";

const mocks = installMocks();
let declareStack: typeof import("../../infra/stack").declareStack;
let studentServer: typeof import("../../components/studentServer");
beforeAll(async () => {
  ({ declareStack } = await import("../../infra/stack"));
  studentServer = await import("../../components/studentServer");
});

// The backend runs on an existing machine here, so every droplet, key and firewall is a student server's.
const onPremises = (studentServers: Record<string, unknown> = { enabled: true }) =>
  config({ locations: [{ name: "lab", provider: "existing", host: "10.9.9.9", slotPool: { min: 1, max: 10 } }], studentServers });

async function run(studentServers: DesiredStudentServer[], cfg = onPremises()) {
  const outputs = declareStack(desired({ config: cfg, studentServers }), cfg, { sshPrivateKey: "k" }, { hostDir: HOST_DIR });
  await settle();
  return { outputs, resources: mocks.take() };
}

describe("StudentServer", () => {
  it("declares one droplet per learner with the desired size, region and image, and exports its IPv4", async () => {
    const servers = Array.from({ length: 7 }, (_, i) => server(`l${i}`, sshKey(`l${i}`), i % 2 ? "ams3" : "fra1"));
    const { outputs, resources } = await run(servers);
    const droplets = byType(resources, T.droplet);
    expect(droplets.map((d) => d.inputs.name).sort()).toEqual(servers.map((s) => `wod-learner-${s.learnerId}`).sort());
    expect(droplets.find((d) => d.name === "learner-l1-droplet")!.inputs).toMatchObject({ region: "ams3", size: "s-1vcpu-1gb", image: "ubuntu-24-04-x64" });
    const l3 = droplets.find((d) => d.name === "learner-l3-droplet")!;
    expect(await valueOf(outputs.studentServers.l3.ipv4)).toBe(l3.state.ipv4Address);
  });

  it("puts the learner's key and the admins' keys on the droplet", async () => {
    const { resources } = await run([server("ada")]);
    const keys = byType(resources, T.sshKey);
    const id = (publicKey: string) => keys.find((k) => k.inputs.publicKey === publicKey.split(" ").slice(0, 2).join(" "))!.id;
    expect(byType(resources, T.droplet)[0].inputs.sshKeys).toEqual([id(sshKey("ada")), id(ADMIN_KEY)]);
  });

  it("creates one DigitalOcean key for two learners holding the same key (DigitalOcean refuses it twice)", async () => {
    const shared = sshKey("family-laptop");
    const { resources } = await run([server("ann", shared), server("bob", sshKey("family-laptop", "bob@other-comment")), server("cyd")]);
    const keys = byType(resources, T.sshKey);
    expect(keys).toHaveLength(3); // admin, the shared one, cyd's
    const [ann, bob] = ["ann", "bob"].map((l) => byType(resources, T.droplet).find((d) => d.name === `learner-${l}-droplet`)!);
    expect((ann.inputs.sshKeys as string[])[0]).toBe((bob.inputs.sshKeys as string[])[0]);
    expect(byType(resources, T.droplet)).toHaveLength(3);
  });

  it("shares the admin's DigitalOcean key with a learner who submitted the same key", async () => {
    const { resources } = await run([server("eve", ADMIN_KEY)]);
    expect(byType(resources, T.sshKey)).toHaveLength(1);
  });

  it("tags the droplet with owner and expiry in DigitalOcean's tag alphabet", async () => {
    const warned = { ...server("Learner.Ünï 42"), phase: "idle-warning" as const };
    const { resources } = await run([warned]);
    const tags = byType(resources, T.droplet)[0].inputs.tags as string[];
    expect(tags).toEqual(["wod", "wod-student-server", "wod-owner:learner-n-42", "wod-expires:2025-06-10", "wod-idle-warning"]);
    for (const tag of tags) expect(tag).toMatch(/^[a-z0-9:_-]+$/);
  });

  it("installs the login monitor through cloud-init with the host scripts it needs", async () => {
    const { resources } = await run([server("ada")]);
    const userData = byType(resources, T.droplet)[0].inputs.userData as string;
    expect(userData.startsWith("#cloud-config\n")).toBe(true);
    const doc = parseYaml(userData) as { write_files: { path: string; encoding: string; content: string }[]; runcmd: string[][] };
    const file = doc.write_files.find((f) => f.path === "/opt/wod/bin/install-login-monitor.sh")!;
    expect(zlib.gunzipSync(Buffer.from(file.content, "base64")).toString()).toBe(fs.readFileSync(path.join(HOST_DIR, "install-login-monitor.sh"), "utf8"));
    expect(doc.write_files.map((f) => f.path)).toContain("/opt/wod/bin/lib.sh");
    expect(doc.runcmd).toEqual([["/opt/wod/bin/install-login-monitor.sh"]]);
  });

  it("the real host scripts fit DigitalOcean's 64 KiB user data", () => {
    const text = studentServer.loginMonitorUserData(path.join(__dirname, "..", "..", "components", "host"));
    expect(text.length).toBeLessThan(64 * 1024);
    expect(text).toContain("/opt/wod/bin/install-login-monitor.sh");
  });

  it("covers every student server with one shared firewall by tag: SSH and web", async () => {
    const { resources } = await run([server("ada"), server("bob")]);
    const firewalls = byType(resources, T.doFirewall);
    expect(firewalls).toHaveLength(1);
    expect(firewalls[0].inputs.tags).toEqual(["wod-student-server"]);
    expect((firewalls[0].inputs.inboundRules as { portRange: string }[]).map((r) => r.portRange)).toEqual(["22", "80", "443"]);
  });

  it("hooks a snapshot onto the droplet's destruction when the stack enables it, and not otherwise", async () => {
    const { resources } = await run([server("ada")]);
    const [hook] = byType(resources, T.localCommand);
    const droplet = byType(resources, T.droplet)[0];
    expect(hook.inputs).toMatchObject({ interpreter: ["node", "-e"], delete: studentServer.SNAPSHOT_HOOK, environment: { DROPLET_ID: droplet.id, SNAPSHOT_NAME: "wod-learner-ada" } });
    expect(hook.inputs.create).toBeUndefined();
    const off = onPremises({ enabled: true, snapshotBeforeDestroy: false });
    expect(byType((await run([server("ada")], off)).resources, T.localCommand)).toEqual([]);
  });
});

/** A fake DigitalOcean API: droplet 77 exists, actions complete after one poll. */
async function fakeApi(opts: { snapshotStatus?: number; dropletGone?: boolean } = {}) {
  const calls: string[] = [];
  let polls = 0;
  const srv = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      calls.push(`${req.method} ${req.url} ${body}`.trim());
      const send = (status: number, json: unknown) => res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(json));
      if (req.headers.authorization !== "Bearer do-token") return send(401, { message: "unauthorized" });
      if (req.url === "/droplets/77") return opts.dropletGone ? send(404, { id: "not_found" }) : send(200, { droplet: { id: 77 } });
      if (req.url === "/droplets/77/actions") return send(opts.snapshotStatus ?? 201, { action: { id: 5, status: "in-progress" } });
      if (req.url === "/actions/5") return send(200, { action: { id: 5, status: ++polls < 2 ? "in-progress" : "completed" } });
      send(404, {});
    });
  });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as { port: number }).port;
  return { calls, url: `http://127.0.0.1:${port}`, close: () => srv.close() };
}

/** Runs the hook exactly as the local Command would: `node -e <delete>` with its environment. */
function runHook(env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn("node", ["-e", studentServer.SNAPSHOT_HOOK], { env: { PATH: process.env.PATH!, WOD_POLL_MS: "5", DROPLET_ID: "77", SNAPSHOT_NAME: "wod-learner-ada", ...env } });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("close", (code) => resolve({ code, out }));
  });
}

describe("snapshot before destroy (the hook's script against a fake DigitalOcean API)", () => {
  it("snapshots the droplet and waits until the snapshot completes", async () => {
    const api = await fakeApi();
    const { code, out } = await runHook({ WOD_DO_API: api.url, DIGITALOCEAN_TOKEN: "do-token" });
    api.close();
    expect(code).toBe(0);
    expect(out).toMatch(/snapshot wod-learner-ada-\d{4}-\d\d-\d\d of droplet 77 completed/);
    expect(api.calls[0]).toBe("GET /droplets/77");
    expect(api.calls[1]).toMatch(/^POST \/droplets\/77\/actions \{"type":"snapshot","name":"wod-learner-ada-\d{4}-\d\d-\d\d"\}$/);
    expect(api.calls.slice(2)).toEqual(["GET /actions/5", "GET /actions/5"]);
  });

  it("fails (so the droplet is kept) when the snapshot is refused", async () => {
    const api = await fakeApi({ snapshotStatus: 422 });
    const { code, out } = await runHook({ WOD_DO_API: api.url, DIGITALOCEAN_TOKEN: "do-token" });
    api.close();
    expect(code).not.toBe(0);
    expect(out).toContain("POST /droplets/77/actions: 422");
  });

  it("fails without a token instead of destroying without a snapshot", async () => {
    const api = await fakeApi();
    const { code, out } = await runHook({ WOD_DO_API: api.url });
    api.close();
    expect(code).not.toBe(0);
    expect(out).toContain("DIGITALOCEAN_TOKEN is not set");
    expect(api.calls).toEqual([]);
  });

  it("lets the delete go on when the droplet is already gone", async () => {
    const api = await fakeApi({ dropletGone: true });
    const { code } = await runHook({ WOD_DO_API: api.url, DIGITALOCEAN_TOKEN: "do-token" });
    api.close();
    expect(code).toBe(0);
    expect(api.calls).toEqual(["GET /droplets/77"]);
  });
});
