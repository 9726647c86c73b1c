// digitalOceanRemover against a local stand-in for the DigitalOcean API (the real one is out of
// reach here): the requests it makes, in order, and what it makes of the answers.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { digitalOceanRemover } from "../infra/reconcile/servers";

const TOKEN = "dop_v1_secret-token-value";
let server: Server;
let api: string;
let requests: { method: string; path: string; auth?: string; body: string }[];
/** Droplets that exist; polls an action stays in progress, and how it ends. */
let droplets: Set<string>;
let actionPolls: number;
let actionEnd: "completed" | "errored";
let rateLimited: boolean;

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      requests.push({ method: req.method!, path: req.url!, auth: req.headers.authorization, body });
      const reply = (status: number, json?: unknown) => res.writeHead(status, { "content-type": "application/json" }).end(json === undefined ? "" : JSON.stringify(json));
      if (rateLimited) return reply(429, { id: "too_many_requests", message: "API Rate limit exceeded." });
      const list = /^\/droplets\?tag_name=([^&]+)&per_page=(\d+)&page=(\d+)$/.exec(req.url!);
      if (list && req.method === "GET") {
        // 203 droplets carry the tag: a full first page and a short second one, as DigitalOcean pages them.
        const [, tag, per, page] = list;
        const all = Array.from({ length: 203 }, (_, i) => ({ id: 5000 + i, name: `wod-learner-${i}`, tags: [decodeURIComponent(tag), `wod-owner:${i}`] }));
        const from = (Number(page) - 1) * Number(per);
        const next = from + Number(per) < all.length ? { next: `${api}/droplets?tag_name=${tag}&per_page=${per}&page=${Number(page) + 1}` } : {};
        return reply(200, { droplets: all.slice(from, from + Number(per)), links: { pages: next }, meta: { total: all.length } });
      }
      const m = /^\/droplets\/(\d+)(\/actions|\/snapshots)?$/.exec(req.url!);
      if (m && !droplets.has(m[1])) return reply(404, { id: "not_found", message: "The resource you were accessing could not be found." });
      if (m && req.method === "GET" && !m[2]) return reply(200, { droplet: { id: Number(m[1]) } });
      if (m && req.method === "POST" && m[2] === "/actions") return reply(201, { action: { id: 77, status: "in-progress" } });
      if (m && req.method === "GET" && m[2] === "/snapshots") return reply(200, { snapshots: [{ id: 5001, name: "older" }, { id: 5002, name: JSON.parse(requests.find((r) => r.method === "POST")!.body).name }] });
      if (m && req.method === "DELETE") return droplets.delete(m[1]), reply(204);
      if (req.url === "/actions/77") return reply(200, { action: { id: 77, status: actionPolls-- > 0 ? "in-progress" : actionEnd } });
      reply(500, { message: `unexpected ${req.method} ${req.url}` });
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  api = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));
beforeEach(() => {
  requests = [];
  droplets = new Set(["4101"]);
  actionPolls = 2;
  actionEnd = "completed";
  rateLimited = false;
});

const remover = () => digitalOceanRemover({ token: TOKEN, api, pollMs: 1 });

describe("digitalOceanRemover", () => {
  it("snapshots a live droplet without powering it off, waits for the action, and returns the snapshot's id", async () => {
    expect(await remover().snapshot("4101", "wod-learner-7-2026-11-25")).toBe("5002");
    expect(requests.every((r) => r.auth === `Bearer ${TOKEN}`)).toBe(true);
    const post = requests.find((r) => r.method === "POST")!;
    expect(post.path).toBe("/droplets/4101/actions");
    expect(JSON.parse(post.body)).toEqual({ type: "snapshot", name: "wod-learner-7-2026-11-25" });
    expect(requests.filter((r) => r.path === "/actions/77")).toHaveLength(3); // two polls in progress, then completed
  });

  it("destroys the droplet, and counts one already gone as destroyed", async () => {
    await remover().destroy("4101");
    expect(droplets.has("4101")).toBe(false);
    await expect(remover().destroy("4101")).resolves.toBeUndefined();
  });

  it("has nothing to snapshot when the droplet is already gone", async () => {
    expect(await remover().snapshot("4999", "wod-learner-8-2026-11-25")).toBeUndefined();
    expect(requests.filter((r) => r.method === "POST")).toEqual([]);
  });

  it("fails a snapshot whose action errors, so the droplet is not destroyed after it", async () => {
    actionEnd = "errored";
    await expect(remover().snapshot("4101", "wod-learner-7-2026-11-25")).rejects.toThrow(/snapshot wod-learner-7-2026-11-25 of droplet 4101: errored/);
  });

  it("lists every droplet with a tag, page after page", async () => {
    const listed = await remover().tagged!("wod-student-server");
    expect(listed).toHaveLength(203);
    expect(listed[202]).toEqual({ id: "5202", name: "wod-learner-202", tags: ["wod-student-server", "wod-owner:202"] });
    expect(requests.map((r) => r.path)).toEqual(["/droplets?tag_name=wod-student-server&per_page=200&page=1", "/droplets?tag_name=wod-student-server&per_page=200&page=2"]);
  });

  it("reports an API refusal with its status and message, never the token", async () => {
    rateLimited = true;
    const error = await remover().destroy("4101").then(() => undefined, (e: Error) => e);
    expect(error?.message).toMatch(/DigitalOcean DELETE \/droplets\/4101: 429 .*Rate limit/);
    expect(error?.message).not.toContain(TOKEN);
  });
});
