// One bad row is one rejection with a reason, never a stop: a learner's malformed SSH key, a
// backend's malformed release record.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { normalizeSshKey, sshKeyFingerprint } from "../components/remote";
import { register } from "../infra/db/registrations";
import { syncCatalog } from "../infra/db/catalog-sync";
import { loadCatalog } from "../infra/catalog/load";
import { checkSshKey } from "../infra/desired/ssh-key";
import { desiredState } from "../infra/desired/state";
import { checkRelease, collectHostFacts, type HostReader } from "../infra/reconcile/host-facts";
import { writeBack } from "../infra/reconcile/writeback";
import { emptySnapshot, KEY_A, learner, stackConfig, wodYml, writeCatalog } from "./support/fixtures";
import { startPg, type TestPg } from "./support/pg";

const TYPES = [
  "ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
  "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com",
];

/** SSH wire strings, each with a length prefix that may lie. */
const wireBody = fc
  .array(fc.record({ bytes: fc.uint8Array({ maxLength: 300 }), lie: fc.option(fc.integer({ min: 0, max: 0xffffffff }), { nil: undefined }) }), { maxLength: 5 })
  .chain((fields) =>
    fc.constantFrom(...TYPES, "ssh-dss", "").map((type) => {
      const parts = [Buffer.from(type), ...fields.map((f) => Buffer.from(f.bytes))].map((b, i) => {
        const len = Buffer.alloc(4);
        len.writeUInt32BE(i > 0 && fields[i - 1].lie !== undefined ? fields[i - 1].lie! : b.length);
        return Buffer.concat([len, b]);
      });
      return { type, b64: Buffer.concat(parts).toString("base64") };
    }),
  );

const wire = (...fields: (string | Uint8Array)[]) =>
  Buffer.concat(fields.map((f) => Buffer.from(f)).flatMap((b) => [Buffer.from([b.length >>> 24, (b.length >>> 16) & 255, (b.length >>> 8) & 255, b.length & 255]), b])).toString("base64");

/** Bodies with the right shape for their type (random key material), sometimes one field short or long. */
const wellFormedBody = fc
  .record({
    kind: fc.constantFrom("ed25519", "sk-ed25519", "p256", "p384", "p521", "rsa"),
    material: fc.uint8Array({ minLength: 300, maxLength: 300 }),
    extra: fc.constantFrom(0, 0, 0, 1, -1),
  })
  .map(({ kind, material, extra }) => {
    const m = (n: number) => material.subarray(0, n);
    const point = (n: number) => Buffer.concat([Buffer.from([4]), m(n - 1)]);
    const [type, ...fields]: (string | Uint8Array)[] = {
      ed25519: ["ssh-ed25519", m(32)],
      "sk-ed25519": ["sk-ssh-ed25519@openssh.com", m(32), "ssh:"],
      p256: ["ecdsa-sha2-nistp256", "nistp256", point(65)],
      p384: ["ecdsa-sha2-nistp384", "nistp384", point(97)],
      p521: ["ecdsa-sha2-nistp521", "nistp521", point(133)],
      rsa: ["ssh-rsa", Uint8Array.of(1, 0, 1), Buffer.concat([Buffer.from([0, 0x80 | material[0]]), m(255)])],
    }[kind];
    if (extra > 0) fields.push(m(8));
    if (extra < 0) fields.pop();
    return { type: String(type), b64: wire(type, ...fields) };
  });

describe("a learner's SSH key", () => {
  it("the issue's key (ssh-rsa with a type and nothing else) is a rejection, not a crash", () => {
    expect(checkSshKey("ssh-rsa AAAAB3NzaC1yc2E=")).toEqual({ ok: false, reason: expect.stringMatching(/truncated or malformed/) });
    expect(checkSshKey("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5")).toMatchObject({ ok: false });
    expect(checkSshKey("ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTY=")).toMatchObject({ ok: false });
  });

  it("never throws, whatever text a learner submits (fuzzed)", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: "binary" }), fc.string({ unit: "grapheme" })), (text) => {
        const r = checkSshKey(text);
        expect(r.ok ? r.fingerprint : r.reason).toEqual(expect.any(String));
      }),
      { numRuns: 2000 },
    );
  });

  it("never throws on bodies in the SSH wire format with any fields and lying lengths, and what it accepts the components accept (fuzzed)", () => {
    let accepted = 0;
    fc.assert(
      fc.property(fc.oneof(wireBody, wellFormedBody), fc.constantFrom("", " learner@laptop", "\tx y"), ({ type, b64 }, comment) => {
        const r = checkSshKey(`${type} ${b64}${comment}`);
        if (!r.ok) {
          expect(r.reason).toEqual(expect.any(String));
          return;
        }
        accepted++;
        // A key the decision accepts must never make the stack's components throw.
        expect(normalizeSshKey(r.key)).toBe(`${type} ${b64}`);
        expect(sshKeyFingerprint(r.key)).toBe(r.fingerprint);
      }),
      { numRuns: 3000 },
    );
    expect(accepted).toBeGreaterThan(300); // the accepting branch was exercised, not only refusals
  });

  it("real keys of every usual type are accepted with ssh-keygen's fingerprint; a short RSA key is refused", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "wod-keys-"));
    try {
      const keygen = (name: string, ...args: string[]) => {
        execFileSync("ssh-keygen", ["-q", "-N", "", "-C", `${name}@example.org`, "-f", path.join(dir, name), ...args]);
        const pub = fs.readFileSync(path.join(dir, `${name}.pub`), "utf8");
        const fingerprint = execFileSync("ssh-keygen", ["-l", "-E", "sha256", "-f", path.join(dir, `${name}.pub`)], { encoding: "utf8" }).split(" ")[1];
        return { pub, fingerprint };
      };
      for (const [name, args] of [["ed", ["-t", "ed25519"]], ["rsa", ["-t", "rsa", "-b", "2048"]], ["p256", ["-t", "ecdsa", "-b", "256"]], ["p384", ["-t", "ecdsa", "-b", "384"]], ["p521", ["-t", "ecdsa", "-b", "521"]]] as const) {
        const { pub, fingerprint } = keygen(name, ...args);
        expect(checkSshKey(pub), name).toMatchObject({ ok: true, fingerprint, key: pub.trim() });
      }
      expect(checkSshKey(keygen("weak", "-t", "rsa", "-b", "1024").pub)).toEqual({ ok: false, reason: "RSA key of 1024 bits is too weak (2048 at least)" });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("one learner's malformed key rejects that learner only: the others still get their servers", () => {
    const now = new Date("2026-11-23T09:00:00Z");
    const granted = { js4: new Date(now.getTime() - 3_600_000) };
    const bad = learner({ sshPublicKey: "ssh-rsa AAAAB3NzaC1yc2E= sam@laptop", passed: granted });
    const good = learner({ sshPublicKey: KEY_A, passed: granted });
    const d = desiredState({ catalog: [], snapshot: { ...emptySnapshot(), learners: [bad, good] }, config: stackConfig(), now });
    expect(d.studentServers.map((s) => s.learnerId)).toEqual([good.id]);
    expect(d.rejected).toEqual([{ kind: "learner", id: bad.id, reason: expect.stringMatching(/SSH key body is truncated/) }]);
  });
});

describe("a backend's release records", () => {
  let pg: TestPg;
  beforeAll(async () => {
    pg = await startPg();
  });
  afterAll(async () => {
    await pg?.stop();
  });

  const records = (ids: string[]) =>
    [
      `{"registration":"r1","completionRatio":0.5}`,
      `{"registration":"${ids[0]}","completionRatio":0.75}`,
      `{"registration":"${ids[1]}","completionRatio":7}`,
      `{"registration":"99999999999999999999999","completionRatio":0.1}`,
      `not json at all`,
      `{"registration":${ids[1]},"completionRatio":1}`,
    ].join("\n");

  it("a malformed record is reported with its reason and the good ones are written back", async () => {
    const pool = await pg.fresh();
    const config = stackConfig();
    await syncCatalog(pool, config, loadCatalog(writeCatalog({ "WKSHP-A": { yml: wodYml("A") } }), config).workshops);
    const ids: string[] = [];
    for (const email of ["a@example.org", "b@example.org"]) {
      const r = await register(pool, { email, workshop: "A" });
      if (!r.ok) throw new Error(r.message);
      ids.push(r.id);
    }
    const reader: HostReader = { read: async (_address, command) => (command.includes("released") ? records(ids) : "") };
    const facts = await collectHostFacts(reader, { servers: [], backends: [{ location: "eu", address: "192.0.2.1" }] });
    expect(facts.completions).toEqual({ [ids[0]]: 0.75, [ids[1]]: 1 });
    expect(facts.rejected.map((r) => r.reason)).toEqual([
      'registration "r1" is not a registration id',
      "completionRatio 7 is not a number between 0 and 1",
      'registration "99999999999999999999999" is not a registration id',
      "not JSON",
    ]);
    expect(facts.unreachable).toEqual([]);

    const desired = desiredState({ catalog: [], snapshot: emptySnapshot(), config, now: new Date() });
    const summary = await writeBack(pool, { desired, applied: { cohorts: new Map(), droplets: new Map() }, outputs: {}, facts, now: new Date() });
    expect(summary.completions).toBe(2);
    const rows = (await pool.query("select id::text, completion::float from registrations order by id")).rows;
    expect(rows).toEqual([{ id: ids[0], completion: 0.75 }, { id: ids[1], completion: 1 }]);
  });

  it("the same check serves records that arrive as JSON objects (a sync's results): never an id the database cannot take", () => {
    expect(checkRelease({ registration: "r1", completionRatio: 0.5 })).toEqual({ reason: 'registration "r1" is not a registration id' });
    expect(checkRelease({ registration: 12, completionRatio: 0.5 })).toEqual({ registration: "12", completionRatio: 0.5 });
    expect(checkRelease({ registration: "12", completionRatio: Number.NaN })).toEqual({ reason: expect.stringMatching(/not a number between 0 and 1/) });
    expect(checkRelease(null)).toEqual({ reason: "not a release record" });
  });

  it("a last-login file that holds no usable time is reported, and never read as a login", async () => {
    const reader: HostReader = { read: async (address) => (address === "192.0.2.7" ? "-271821-04-20T00:00:00Z\n" : "2026-11-20T10:00:00Z\n") };
    const facts = await collectHostFacts(reader, { servers: [{ learnerId: "7", ipv4: "192.0.2.7" }, { learnerId: "8", ipv4: "192.0.2.8" }], backends: [] });
    expect(facts.lastSshAt).toEqual({ "8": new Date("2026-11-20T10:00:00Z") });
    expect(facts.rejected).toEqual([{ what: "student server of learner 7", address: "192.0.2.7", record: "-271821-04-20T00:00:00Z", reason: expect.stringMatching(/not a login time/) }]);
  });
});

describe("a registration for a quarantined workshop", () => {
  let pg: TestPg;
  beforeAll(async () => {
    pg = await startPg();
  });
  afterAll(async () => {
    await pg?.stop();
  });

  it("is one rejection with the reason when there is nothing to keep; a kept workshop's learner keeps the account; the rest decides as usual", async () => {
    const pool = await pg.fresh();
    const config = stackConfig();
    const notebook = (text: string) => JSON.stringify({ cells: [{ cell_type: "markdown", metadata: {}, source: [text] }], metadata: {}, nbformat: 4, nbformat_minor: 5 });
    const good = { "WKSHP-A": { yml: wodYml("A") }, "WKSHP-B": { yml: wodYml("B", { range: [11, 20] }) }, "WKSHP-C": { yml: wodYml("C", { range: [21, 30] }) } };
    await syncCatalog(pool, config, loadCatalog(writeCatalog(good), config).workshops);
    const ids: Record<string, string> = {};
    for (const w of ["A", "B", "C"]) {
      const r = await register(pool, { email: `${w.toLowerCase()}@example.org`, workshop: w, startsAt: new Date(Date.now() - 60_000) });
      if (!r.ok) throw new Error(r.message);
      ids[w] = r.id;
    }
    // B left the catalog once (its row is marked out of it), then came back broken; C is broken now.
    await syncCatalog(pool, config, loadCatalog(writeCatalog({ "WKSHP-A": good["WKSHP-A"], "WKSHP-C": good["WKSHP-C"] }), config).workshops);
    const broken = { files: { "1-Lab.ipynb": notebook("{{ UNDEFINED_HERE }}") } };
    const dir = writeCatalog({ "WKSHP-A": good["WKSHP-A"], "WKSHP-B": { ...good["WKSHP-B"], ...broken }, "WKSHP-C": { ...good["WKSHP-C"], ...broken } });
    const { loadInputs } = await import("../infra/load");
    const inputs = await loadInputs({ config: { ...config, workshopsDir: dir }, db: { pool, describe: "test", close: async () => {} } });
    expect(inputs.catalog.quarantined.map((q) => q.name)).toEqual(["B", "C"]);
    expect(inputs.kept.map((w) => w.name)).toEqual(["C"]);
    const desired = desiredState({ catalog: [...inputs.catalog.workshops, ...inputs.kept], quarantined: inputs.catalog.quarantined, snapshot: inputs.snapshot, config, now: new Date() });
    expect(desired.rejected).toEqual([{ kind: "registration", id: ids.B, reason: "workshop B is quarantined and has no good catalog sync to keep it from: no seats until it is fixed" }]);
    expect(desired.accounts.map((a) => [a.registrationId, a.workshop])).toEqual([[ids.A, "A"], [ids.C, "C"]]);
    expect(desired.contents.find((c) => c.workshop === "C")).toMatchObject({ kept: true, dir: "" });
  });
});
