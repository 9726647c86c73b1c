import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Workshop } from "../infra/catalog/schema";
import type { Snapshot } from "../infra/db/snapshot";
import { desiredState } from "../infra/desired/state";
import { KEY_A, KEY_B, emptySnapshot, learner, registration, server, stackConfig } from "./support/fixtures";

const NOW = new Date("2026-11-23T12:00:00Z");
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const ago = (ms: number) => new Date(NOW.getTime() - ms);
const config = stackConfig();

function workshop(name: string, fields: Partial<Workshop> = {}): Workshop {
  return {
    name, title: name, description: "", active: true, capacity: 5, priority: 0, range: { min: 1, max: 10 }, reset: false, ldap: false,
    monoappliance: false, multiappliance: false, replayId: null, varpass: false, compile: false, workshopImg: "", badgeImg: "",
    beta: false, category: [], duration: 4, presenter: "", role: "", avatar: "", replayLink: "", location: "eu",
    alternateLocation: [], folder: `WKSHP-${name}`, dir: `/catalog/WKSHP-${name}`, locations: ["eu"], contentHash: `hash-${name}`,
    ...fields,
  };
}

const decide = (catalog: Workshop[], snapshot: Partial<Snapshot>, cfg = config, now = NOW) =>
  desiredState({ catalog, snapshot: { ...emptySnapshot(), ...snapshot }, config: cfg, now });

describe("student accounts", () => {
  const python = workshop("Python");

  it("a live registration becomes a student account with its slot's template variables", () => {
    const r = registration({ workshop: "Python", slot: 3 }, NOW);
    const [a] = decide([python], { registrations: [r] }).accounts;
    expect(a).toMatchObject({ registrationId: r.id, username: "student3", uid: 2003, location: "eu", folder: "WKSHP-Python", contentHash: "hash-Python" });
    expect(a.variables).toMatchObject({ STDID: "3", USERNAME: "student3", HTTPPORT: "8000", WODBEEXTFQDN: "eu.example.org", WODBEURL: "http://eu.example.org:8000", BRANDING: "Workshops-on-Demand" });
    expect(JSON.stringify(a)).not.toMatch(/PASSSTU/); // the password is never part of the decision
  });

  it("an expired registration yields no account and is released on the next run", () => {
    const r = registration({ workshop: "Python", slot: 1, startsAt: ago(5 * HOUR), endsAt: ago(HOUR) }, NOW);
    const d = decide([python], { registrations: [r] });
    expect(d.accounts).toEqual([]);
    expect(d.transitions.expiredRegistrations).toEqual([r.id]);
  });

  it("a registration enters its warning state one hour before its end", () => {
    const ending = registration({ workshop: "Python", slot: 1, endsAt: new Date(NOW.getTime() + 59 * 60_000) }, NOW);
    const fine = registration({ workshop: "Python", slot: 2, endsAt: new Date(NOW.getTime() + 61 * 60_000) }, NOW);
    const phases = decide([python], { registrations: [ending, fine] }).accounts.map((a) => a.phase);
    expect(phases).toEqual(["ending", "active"]);
  });

  it("a registration booked for later is not activated yet", () => {
    const r = registration({ workshop: "Python", slot: 1, startsAt: new Date(NOW.getTime() + HOUR), endsAt: new Date(NOW.getTime() + 5 * HOUR) }, NOW);
    const d = decide([python], { registrations: [r] });
    expect(d.accounts).toEqual([]);
    expect(d.rejected).toEqual([]);
  });

  it("a row naming an unknown workshop, a wrong location or an out-of-range slot is rejected and the rest converges", () => {
    const good = registration({ workshop: "Python", slot: 1 }, NOW);
    const unknown = registration({ workshop: "Cobol", slot: 2 }, NOW);
    const elsewhere = registration({ workshop: "Python", slot: 3, location: "us" }, NOW);
    const outside = registration({ workshop: "Python", slot: 42 }, NOW);
    const d = decide([python], { registrations: [good, unknown, elsewhere, outside] });
    expect(d.accounts.map((a) => a.registrationId)).toEqual([good.id]);
    expect(d.rejected).toEqual([
      { kind: "registration", id: unknown.id, reason: "unknown workshop Cobol" },
      { kind: "registration", id: elsewhere.id, reason: "workshop Python is not hosted on location us" },
      { kind: "registration", id: outside.id, reason: "slot 42 is outside the range 1-10 of Python" },
    ]);
  });

  it("one slot is never given to two registrations, even if the rows say so", () => {
    const first = registration({ workshop: "Python", slot: 4 }, NOW);
    const second = registration({ workshop: "Python", slot: 4 }, NOW);
    const d = decide([python], { registrations: [second, first] });
    expect(d.accounts.map((a) => a.registrationId)).toEqual([first.id]);
    expect(d.rejected[0]).toMatchObject({ id: second.id, reason: expect.stringMatching(/already held by registration/) });
  });

  it("appliance workshops give each student base + (slot - range.min) for every named port", () => {
    const docker = workshop("Docker", { range: { min: 21, max: 30 }, reset: true, appliance: { machines: { eu: { size: "s", image: "i" } }, produces: [], ports: { web: 31000, ssh: 32000 } } });
    const rs = [21, 24].map((slot) => registration({ workshop: "Docker", slot }, NOW));
    const d = decide([docker], { registrations: rs });
    expect(d.accounts.map((a) => a.ports)).toEqual([{ web: 31000, ssh: 32000 }, { web: 31003, ssh: 32003 }]);
    expect(d.accounts[1].variables).toMatchObject({ PORT_WEB: "31003", PORT_SSH: "32003" });
    expect(d.appliances).toHaveLength(1);
    expect(d.appliances[0]).toMatchObject({ workshop: "Docker", location: "eu", reset: true, portBases: { web: 31000, ssh: 32000 } });
    expect(d.appliances[0].students.map((s) => [s.username, s.ports.web])).toEqual([["student21", 31000], ["student24", 31003]]);
  });

  it("an inactive workshop keeps its content while someone still uses it, and loses it after", () => {
    const closed = workshop("Python", { active: false });
    const r = registration({ workshop: "Python", slot: 1 }, NOW);
    expect(decide([closed], { registrations: [r] }).contents.map((c) => c.location)).toEqual(["eu"]);
    expect(decide([closed], {}).contents).toEqual([]);
  });

  it("content goes to every backend that hosts the workshop", () => {
    const both = workshop("Python", { locations: ["eu", "us"], alternateLocation: ["us"] });
    const d = decide([both], {});
    expect(d.contents.map((c) => c.location)).toEqual(["eu", "us"]);
    expect(d.backends.map((b) => [b.location, b.workshops])).toEqual([["eu", ["Python"]], ["us", ["Python"]]]);
  });
});

describe("student servers", () => {
  const granted = { js4: ago(DAY) };

  it("passing the grant lesson with a valid key and an allowed region grants a server", () => {
    const l = learner({ passed: granted });
    const [s] = decide([], { learners: [l] }).studentServers;
    expect(s).toMatchObject({ learnerId: l.id, region: "fra1", size: "s-1vcpu-1gb", phase: "active", keyFingerprint: "SHA256:6GvB3Rl7P98Og2O/BIoeNpsRK209JTpWVBwfxnMPYKw" });
    expect(s.expiresAt).toBe(new Date(NOW.getTime() + 17 * DAY).toISOString());
  });

  it("no server before the grant lesson is passed", () => {
    expect(decide([], { learners: [learner({ passed: { js3: ago(DAY) } })] }).studentServers).toEqual([]);
  });

  it("passing the revoke lesson removes the server", () => {
    const l = learner({ passed: { ...granted, js5: ago(HOUR) } });
    const d = decide([], { learners: [l], studentServers: [server(l.id)] });
    expect(d.studentServers).toEqual([]);
    expect(d.transitions.removeServers).toEqual([{ learnerId: l.id, reason: "revoke-lesson" }]);
  });

  it("an invalid key or a region not allowed is rejected without stopping the other learners", () => {
    const ok = learner({ passed: granted, sshPublicKey: KEY_B });
    const badKey = learner({ passed: granted, sshPublicKey: "ssh-rsa AAAA nope" });
    const badRegion = learner({ passed: granted, region: "sgp1" });
    const d = decide([], { learners: [badKey, ok, badRegion] });
    expect(d.studentServers.map((s) => s.learnerId)).toEqual([ok.id]);
    expect(d.rejected).toEqual([
      { kind: "learner", id: badKey.id, reason: expect.stringMatching(/SSH key/) },
      { kind: "learner", id: badRegion.id, reason: "region sgp1 is not allowed (allowed: fra1, nyc3)" },
    ]);
    expect(d.transitions.removeServers).toEqual([]);
  });

  it("a live server keeps its region when the learner picks another", () => {
    const l = learner({ passed: granted, region: "nyc3" });
    expect(decide([], { learners: [l], studentServers: [server(l.id, { createdAt: ago(DAY) })] }).studentServers[0].region).toBe("fra1");
  });

  it("an idle server is warned, then removed after the warning period; a login clears the warning", () => {
    const l = learner({ passed: granted });
    const idle = server(l.id, { createdAt: ago(40 * DAY), lastSshAt: ago(15 * DAY) });

    const first = decide([], { learners: [l], studentServers: [idle] });
    expect(first.studentServers[0]).toMatchObject({ phase: "idle-warning", expiresAt: new Date(NOW.getTime() + 3 * DAY).toISOString() });
    expect(first.transitions.warnServers).toEqual([l.id]);

    const warned = { ...idle, warnedAt: NOW };
    const during = decide([], { learners: [l], studentServers: [warned] }, config, new Date(NOW.getTime() + 2 * DAY));
    expect(during.studentServers[0].phase).toBe("idle-warning");
    expect(during.transitions.warnServers).toEqual([]);

    const after = decide([], { learners: [l], studentServers: [warned] }, config, new Date(NOW.getTime() + 3 * DAY));
    expect(after.studentServers).toEqual([]);
    expect(after.transitions.removeServers).toEqual([{ learnerId: l.id, reason: "idle" }]);

    const loggedIn = { ...warned, lastSshAt: new Date(NOW.getTime() + DAY) };
    const back = decide([], { learners: [l], studentServers: [loggedIn] }, config, new Date(NOW.getTime() + 3 * DAY));
    expect(back.studentServers[0].phase).toBe("active");
  });

  it("an admin extension keeps an idle server", () => {
    const l = learner({ passed: granted });
    const s = server(l.id, { createdAt: ago(40 * DAY), lastSshAt: ago(30 * DAY), warnedAt: ago(10 * DAY), extendedUntil: new Date(NOW.getTime() + 5 * DAY) });
    const d = decide([], { learners: [l], studentServers: [s] });
    expect(d.studentServers[0]).toMatchObject({ phase: "active", expiresAt: new Date(NOW.getTime() + 8 * DAY).toISOString() });
    expect(d.transitions.removeServers).toEqual([]);
  });

  it("an admin revocation removes the server, and a removed server is not re-created by itself", () => {
    const l = learner({ passed: granted });
    const revoked = decide([], { learners: [l], studentServers: [server(l.id, { createdAt: ago(DAY), revokedAt: ago(HOUR) })] });
    expect(revoked.studentServers).toEqual([]);
    expect(revoked.transitions.removeServers).toEqual([{ learnerId: l.id, reason: "admin" }]);
    const removed = decide([], { learners: [l], studentServers: [server(l.id, { removedAt: ago(HOUR) })] });
    expect(removed.studentServers).toEqual([]);
    expect(removed.transitions.removeServers).toEqual([]);
  });

  it("a stack without student servers declares none and removes live ones", () => {
    const off = stackConfig({ studentServers: { enabled: false } });
    const l = learner({ passed: granted });
    const d = decide([], { learners: [l], studentServers: [server(l.id)] }, off);
    expect(d.studentServers).toEqual([]);
    expect(d.transitions.removeServers).toEqual([{ learnerId: l.id, reason: "ineligible" }]);
  });
});

describe("properties over generated catalogs and rows", () => {
  // Workshops with disjoint ranges on one location, and registrations with arbitrary slots and times.
  const catalogArb = fc.array(fc.record({ size: fc.integer({ min: 1, max: 8 }), ports: fc.boolean() }), { minLength: 1, maxLength: 5 }).map((specs) => {
    let next = 1;
    return specs.map((s, i) => {
      const range = { min: next, max: next + s.size - 1 };
      next = range.max + 1 + (i % 2);
      return workshop(`W${i}`, { range, capacity: s.size, appliance: s.ports ? { machines: { eu: { size: "s", image: "i" } }, produces: [], ports: { web: 30000, ssh: 40000 } } : undefined });
    });
  });
  const rowsArb = (catalog: Workshop[]) =>
    fc.array(
      fc.record({
        w: fc.integer({ min: 0, max: catalog.length }), // == length: an unknown workshop
        slot: fc.integer({ min: 1, max: 45 }),
        start: fc.integer({ min: -10, max: 2 }),
        hours: fc.integer({ min: 1, max: 6 }),
      }),
      { maxLength: 40 },
    ).map((rows) => rows.map((r) => registration({
      workshop: catalog[r.w]?.name ?? "Unknown", slot: r.slot,
      startsAt: new Date(NOW.getTime() + r.start * HOUR), endsAt: new Date(NOW.getTime() + (r.start + r.hours) * HOUR),
    }, NOW)));
  const inputArb = catalogArb.chain((catalog) => rowsArb(catalog).map((registrations) => ({ catalog, registrations })));

  it("accounts hold distinct slots inside their workshop's range, live now, and every row is accounted for", () => {
    fc.assert(fc.property(inputArb, ({ catalog, registrations }) => {
      const d = decide(catalog, { registrations });
      const slots = d.accounts.map((a) => `${a.location}/${a.slot}`);
      expect(new Set(slots).size).toBe(slots.length);
      for (const a of d.accounts) {
        const w = catalog.find((x) => x.name === a.workshop)!;
        expect(a.slot).toBeGreaterThanOrEqual(w.range.min);
        expect(a.slot).toBeLessThanOrEqual(w.range.max);
        expect(new Date(a.startsAt).getTime()).toBeLessThanOrEqual(NOW.getTime());
        expect(new Date(a.endsAt).getTime()).toBeGreaterThan(NOW.getTime());
      }
      const seen = new Set([...d.accounts.map((a) => a.registrationId), ...d.rejected.map((r) => r.id), ...d.transitions.expiredRegistrations]);
      for (const r of registrations) if (r.startsAt.getTime() <= NOW.getTime() || r.endsAt.getTime() <= NOW.getTime()) expect(seen.has(r.id)).toBe(true);
    }));
  });

  it("appliance ports are unique per port name among one appliance's students", () => {
    fc.assert(fc.property(inputArb, ({ catalog, registrations }) => {
      for (const a of decide(catalog, { registrations }).appliances) {
        for (const name of Object.keys(a.portBases)) {
          const ports = a.students.map((s) => s.ports[name]);
          expect(new Set(ports).size).toBe(ports.length);
          for (const s of a.students) expect(s.ports[name]).toBe(a.portBases[name] + s.slot - catalog.find((w) => w.name === a.workshop)!.range.min);
        }
      }
    }));
  });

  it("a desired student server always has a valid key and an allowed region, and is never also removed", () => {
    const learnersArb = fc.array(
      fc.record({
        key: fc.constantFrom(KEY_A, KEY_B, "ssh-ed25519 broken", null),
        region: fc.constantFrom("fra1", "nyc3", "sgp1", null),
        grant: fc.boolean(), revoke: fc.boolean(), hasServer: fc.boolean(), idleDays: fc.integer({ min: 0, max: 30 }),
        warnedDaysAgo: fc.option(fc.integer({ min: 0, max: 10 })),
      }),
      { maxLength: 20 },
    );
    fc.assert(fc.property(learnersArb, (specs) => {
      const learners = specs.map((s) => learner({ sshPublicKey: s.key, region: s.region, passed: { ...(s.grant ? { js4: ago(DAY) } : {}), ...(s.revoke ? { js5: ago(HOUR) } : {}) } }));
      const servers = specs.flatMap((s, i) => s.hasServer ? [server(learners[i].id, {
        createdAt: ago(60 * DAY), lastSshAt: ago(s.idleDays * DAY), warnedAt: s.warnedDaysAgo === null ? null : ago(s.warnedDaysAgo * DAY),
      })] : []);
      const d = decide([], { learners, studentServers: servers });
      const removed = new Set(d.transitions.removeServers.map((r) => r.learnerId));
      for (const s of d.studentServers) {
        expect(["fra1", "nyc3"]).toContain(s.region);
        expect(s.keyFingerprint).toMatch(/^SHA256:/);
        expect(removed.has(s.learnerId)).toBe(false);
        const spec = specs[learners.findIndex((l) => l.id === s.learnerId)];
        expect(spec.grant && !spec.revoke).toBe(true);
      }
    }));
  });
});
