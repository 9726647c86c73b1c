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
    // WoD's meanings: WORKSHOP is the folder, WODBEPORT the hub port (HTTPPORT is an appliance port, absent here).
    expect(a.variables).toMatchObject({
      STDID: "3", USERNAME: "student3", WORKSHOP: "WKSHP-Python", WODBEPORT: "8000", WODBEEXTFQDN: "eu.example.org",
      WODBEURL: "http://eu.example.org:8000", BRANDING: "Workshops-on-Demand", MODEWS: "WKSHP",
    });
    expect(a.variables.HTTPPORT).toBeUndefined();
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
    const outside = registration({ workshop: "Python", slot: 42, status: "pending" }, NOW);
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

describe("cohorts", () => {
  const python = workshop("Python", { range: { min: 1, max: 10 } });

  it("the live learners of one workshop at one location share one cohort whose slot table names each registration and generation", () => {
    const rs = [registration({ workshop: "Python", slot: 2 }, NOW), registration({ workshop: "Python", slot: 5, generation: 3 }, NOW)];
    const d = decide([python], { registrations: rs });
    expect(d.cohorts).toEqual([{
      name: "eu-WKSHP-Python-s0", location: "eu", workshop: "Python", folder: "WKSHP-Python", shard: 0, contentHash: "hash-Python",
      passwordInNotebooks: false, slots: { "2": `${rs[0].id}#1`, "5": `${rs[1].id}#3` }, retries: {},
    }]);
    expect(d.accounts.map((a) => a.cohort)).toEqual(["eu-WKSHP-Python-s0", "eu-WKSHP-Python-s0"]);
  });

  it("an open workshop keeps its cohort with no learners, so its last learner leaving is an update, never a delete", () => {
    expect(decide([python], {}).cohorts.map((c) => [c.name, c.slots])).toEqual([["eu-WKSHP-Python-s0", {}]]);
    expect(decide([workshop("Python", { active: false })], {}).cohorts).toEqual([]);
  });

  it("slots shard by slot number, 100 to a cohort, so a range edit never moves a live slot", () => {
    const wide = workshop("Wide", { range: { min: 90, max: 210 } });
    const rs = [99, 100, 205].map((slot) => registration({ workshop: "Wide", slot }, NOW));
    const d = decide([wide], { registrations: rs });
    expect(d.cohorts.map((c) => [c.name, Object.keys(c.slots)])).toEqual([
      ["eu-WKSHP-Wide-s0", ["99"]], ["eu-WKSHP-Wide-s1", ["100"]], ["eu-WKSHP-Wide-s2", ["205"]],
    ]);
    const shifted = decide([workshop("Wide", { range: { min: 50, max: 250 } })], { registrations: rs });
    expect(shifted.accounts.map((a) => a.cohort)).toEqual(d.accounts.map((a) => a.cohort));
  });

  it("a new registration changes the inputs of exactly one cohort", () => {
    const other = workshop("Git", { range: { min: 11, max: 20 } });
    const before = [registration({ workshop: "Python", slot: 1 }, NOW), registration({ workshop: "Git", slot: 11 }, NOW)];
    const after = [...before, registration({ workshop: "Python", slot: 2 }, NOW)];
    const a = decide([python, other], { registrations: before }).cohorts;
    const b = decide([python, other], { registrations: after }).cohorts;
    expect(b.map((c) => c.name)).toEqual(a.map((c) => c.name));
    expect(b.filter((c, i) => JSON.stringify(c) !== JSON.stringify(a[i])).map((c) => c.name)).toEqual(["eu-WKSHP-Python-s0"]);
  });

  it("an activated learner whose slot leaves the range after a catalog edit keeps it until the end; a pending one is refused", () => {
    const active = registration({ workshop: "Python", slot: 9 }, NOW);
    const pending = registration({ workshop: "Python", slot: 8, status: "pending" }, NOW);
    const d = decide([workshop("Python", { range: { min: 1, max: 5 } })], { registrations: [active, pending] });
    expect(d.accounts.map((a) => a.registrationId)).toEqual([active.id]);
    expect(d.notes).toEqual([{ kind: "registration", id: active.id, reason: "slot 9 is outside the range 1-5 of Python; kept until the registration ends" }]);
    expect(d.rejected.map((r) => r.id)).toEqual([pending.id]);
  });

  it("ended registrations name the cohort that held them; a failed release is retried through its cohort's inputs", () => {
    const expired = registration({ workshop: "Python", slot: 3, startsAt: ago(5 * HOUR), endsAt: ago(HOUR), releaseAttempts: 2 }, NOW);
    const cancelled = { id: "900", workshop: "Python", location: "eu", slot: 4, status: "cancelled" as const, generation: 1, releaseAttempts: 0 };
    const d = decide([python], { registrations: [expired], closing: [cancelled] });
    expect(d.transitions.expiredRegistrations).toEqual([expired.id]);
    expect(d.transitions.closedRegistrations).toEqual(["900"]);
    expect(d.transitions.endedCohorts).toEqual({ [expired.id]: "eu-WKSHP-Python-s0", "900": "eu-WKSHP-Python-s0" });
    expect(d.cohorts[0].retries).toEqual({ [expired.id]: 2 });
    expect(d.cohorts[0].slots).toEqual({});
  });

  it("notebooks get the password only for workshops that ask for it (varpass), as in WoD", () => {
    expect(decide([workshop("Python", { varpass: true })], {}).cohorts[0].passwordInNotebooks).toBe(true);
    expect(decide([python], {}).cohorts[0].passwordInNotebooks).toBe(false);
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
    // Idle again long after that login: the old warning no longer counts — a new one is given, no removal yet.
    const idleAgain = decide([], { learners: [l], studentServers: [loggedIn] }, config, new Date(NOW.getTime() + 16 * DAY));
    expect(idleAgain.transitions.removeServers).toEqual([]);
    expect(idleAgain.transitions.warnServers).toEqual([l.id]);
    expect(idleAgain.studentServers[0].phase).toBe("idle-warning");
  });

  it("an admin extension keeps an idle server", () => {
    const l = learner({ passed: granted });
    const s = server(l.id, { createdAt: ago(40 * DAY), lastSshAt: ago(30 * DAY), warnedAt: ago(10 * DAY), extendedUntil: new Date(NOW.getTime() + 5 * DAY) });
    const d = decide([], { learners: [l], studentServers: [s] });
    expect(d.studentServers[0]).toMatchObject({ phase: "active", expiresAt: new Date(NOW.getTime() + 8 * DAY).toISOString() });
    expect(d.transitions.removeServers).toEqual([]);
  });

  it("an extension that has ended keeps nothing: the idle server is warned, then removed", () => {
    const l = learner({ passed: granted });
    const ended = server(l.id, { createdAt: ago(40 * DAY), lastSshAt: ago(30 * DAY), extendedUntil: ago(2 * DAY) });
    const d = decide([], { learners: [l], studentServers: [ended] });
    expect(d.studentServers[0]).toMatchObject({ phase: "idle-warning", expiresAt: new Date(NOW.getTime() + 3 * DAY).toISOString() });
    expect(d.transitions.warnServers).toEqual([l.id]);
    // Warned when the extension ran out, the warning period over: removed.
    const warned = { ...ended, extendedUntil: ago(5 * DAY), warnedAt: ago(4 * DAY) };
    const later = decide([], { learners: [l], studentServers: [warned] });
    expect(later.studentServers).toEqual([]);
    expect(later.transitions.removeServers).toEqual([{ learnerId: l.id, reason: "idle" }]);
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
      workshop: catalog[r.w]?.name ?? "Unknown", slot: r.slot, status: r.slot % 3 ? "active" : "pending",
      startsAt: new Date(NOW.getTime() + r.start * HOUR), endsAt: new Date(NOW.getTime() + (r.start + r.hours) * HOUR),
    }, NOW)));
  const inputArb = catalogArb.chain((catalog) => rowsArb(catalog).map((registrations) => ({ catalog, registrations })));

  it("accounts hold distinct slots inside their workshop's range, live now, and every row is accounted for", () => {
    fc.assert(fc.property(inputArb, ({ catalog, registrations }) => {
      const d = decide(catalog, { registrations });
      const slots = d.accounts.map((a) => `${a.location}/${a.slot}`);
      expect(new Set(slots).size).toBe(slots.length);
      // Every account sits in exactly its cohort's slot table, and the tables hold nothing else.
      const tables = new Map(d.cohorts.map((c) => [c.name, c.slots]));
      for (const a of d.accounts) expect(tables.get(a.cohort)?.[String(a.slot)]).toBe(`${a.registrationId}#${a.generation}`);
      expect(d.cohorts.reduce((n, c) => n + Object.keys(c.slots).length, 0)).toBe(d.accounts.length);
      const kept = new Set(d.notes.map((n) => n.id));
      for (const a of d.accounts) {
        const w = catalog.find((x) => x.name === a.workshop)!;
        // Outside the range only when already activated (a catalog edit never takes a live slot), and then said so.
        if (a.slot < w.range.min || a.slot > w.range.max) expect(kept.has(a.registrationId)).toBe(true);
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
