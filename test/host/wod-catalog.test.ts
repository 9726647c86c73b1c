// A real-shaped Workshops-on-Demand catalog (test/fixtures/wod-catalog, as WoD's authors publish
// theirs) checked by the plan's rules and activated on a real backend: every notebook renders with
// WoD's variables and meanings — title, branding, hub address, the student's own appliance port,
// the appliance's address through hostvars, what the appliance produced — and what WoD copies
// verbatim is copied verbatim.
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseStackConfig, type StackConfig } from "../../infra/config";
import type { Catalog } from "../../infra/catalog/load";
import { loadCheckedCatalog } from "../../infra/catalog/templates";
import type { RegistrationRow } from "../../infra/db/snapshot";
import { type Applied, HostApplier } from "./apply";
import { Browser, startTestHost, type TestHost } from "./testhost";

const CATALOG = resolve(__dirname, "../fixtures/wod-catalog");
const NOW = new Date();
let host: TestHost;
let config: StackConfig;
let catalog: Catalog;
let applied: Applied;

const live = (id: string, workshop: string, slot: number): RegistrationRow => ({
  id, participantId: id, email: `${id}@example.org`, workshop, location: "lab", slot, status: "active", generation: 1,
  releaseAttempts: 0, startsAt: new Date(NOW.getTime() - 3_600_000), endsAt: new Date(NOW.getTime() + 3_600_000),
});
const notebook = async (slot: number, folder: string, file = "0-ReadMeFirst.ipynb") => {
  const nb = JSON.parse(await host.sh(`cat /student/student${slot}/${folder}/${file}`)); // valid JSON once rendered
  return (nb.cells as { source: string | string[] }[]).map((c) => (Array.isArray(c.source) ? c.source.join("") : c.source)).join("\n");
};

beforeAll(async () => {
  host = await startTestHost();
  config = parseStackConfig({
    locations: [{ name: "lab", provider: "existing", host: host.addr, slotPool: { min: 1, max: 60 } }],
    adminCidrs: ["10.231.0.0/16"], branding: "ACME", brand: { wod: "ACME Workshops-on-Demand", surveyUrl: "https://survey.example.org/wod" },
  }, "wod-catalog");
  catalog = loadCheckedCatalog(CATALOG, config);
  // The appliance's own software is not what is tested here: podman is a stub on this host.
  await host.sh("printf '#!/bin/sh\\nexit 0\\n' > /usr/local/bin/podman && chmod +x /usr/local/bin/podman");
  applied = await new HostApplier(host).apply(catalog.workshops, {
    registrations: [live("1", "Bash101", 2), live("2", "Containers101", 43), live("3", "SQL101", 21)], closing: [], learners: [], studentServers: [],
  }, config);
}, 900_000);

afterAll(async () => {
  await host?.down();
}, 120_000);

describe("a real-shaped WoD catalog", () => {
  it("plans with no errors: display titles, no location, [a-b] ranges, raw blocks, an inactive overlapping workshop", () => {
    expect(catalog.issues.filter((i) => i.severity === "error")).toEqual([]);
    expect(catalog.workshops.map((w) => [w.name, w.title, w.locations])).toContainEqual(["Bash101", "Bash 101 - A gentle introduction to the shell", ["lab"]]);
  });

  it("activates every workshop on the backend", () => {
    const slots = Object.values(applied.results).flatMap((r) => Object.values(r.slots));
    expect(slots.map((s) => [s.registration, s.status, s.error ?? ""]).sort()).toEqual([["1", "active", ""], ["2", "active", ""], ["3", "active", ""]]);
  });

  it("renders the title, the branding, the hub's address and MODEWS as WoD does", async () => {
    const text = await notebook(2, "WKSHP-Bash101");
    expect(text).toContain("# Welcome to the ACME Workshops-on-Demand");
    expect(text).toContain("# Bash 101 Workshop");
    expect(text).toContain(`You are student 2 of WKSHP-Bash101, on the hub at ${host.addr}.`);
  });

  it("gives an appliance workshop's learner their own port, the appliance's address through hostvars and what the appliance produced", async () => {
    const text = await notebook(43, "WKSHP-Containers101");
    expect(text).toContain(`Your appliance is ${host.addr}; log in with \`ssh -p 14103 student43@${host.addr}\`.`);
    expect(text).toContain("Your web port is 14153 (ports start at 14151 for the first student).");
    expect(text).toMatch(/Authorization: token [0-9a-f]{32}/);
  });

  it("puts the password in a varpass workshop's notebooks, and it is the one that logs in", async () => {
    expect(await notebook(21, "WKSHP-SQL101")).toContain(applied.credentials["3"]);
    expect((await new Browser(host.hubUrl).login("student21", applied.credentials["3"])).status).toBe(200);
  });

  it("copies what WoD does not render (an Ansible templates/*.j2 folder, *.yml, licences) byte for byte", async () => {
    for (const file of ["templates/registries.conf.j2", "templates/site.yml", "LICENSE.md"]) {
      expect(await host.sh(`cat /student/student43/WKSHP-Containers101/${file}`)).toBe(readFileSync(join(CATALOG, "WKSHP-Containers101", file), "utf8"));
    }
  });
});
