import * as fs from "node:fs";
import * as path from "node:path";
import { stringify } from "yaml";
import { describe, expect, it } from "vitest";
import { parseStackConfig, readStackFile } from "../infra/config";
import { hasErrors, loadCatalog } from "../infra/catalog/load";
import { formatIssue } from "../infra/catalog/schema";
import { ROOT } from "../infra/load";
import { stackConfig, wodYml, writeCatalog } from "./support/fixtures";

const config = stackConfig();
const issuesOf = (dir: string, cfg = config) => loadCatalog(dir, cfg).issues.map(formatIssue);
const errors = (dir: string, cfg = config) => issuesOf(dir, cfg).filter((i) => i.startsWith("error:"));
const warnings = (dir: string, cfg = config) => issuesOf(dir, cfg).filter((i) => i.startsWith("warning:"));
const FIXTURE = path.join(ROOT, "test/fixtures/wod-catalog");
/** A wod.yml as WoD publishes it: title in name, no location. */
const published = (title: string, fields: Record<string, unknown> = {}) => {
  const { location: _l, ...yml } = wodYml(title, fields);
  return { ...yml, ...("location" in fields ? { location: fields.location } : {}) };
};

describe("the shipped catalog", () => {
  it("plans cleanly for the dev and prod stacks, placed by the stack since wod.yml names no location", () => {
    for (const [stack, locations] of [["dev", ["dev"]], ["prod", ["eu", "us"]]] as const) {
      const catalog = loadCatalog(path.join(ROOT, "workshops"), readStackFile(path.join(ROOT, `Pulumi.${stack}.yaml`)));
      expect(catalog.issues.filter((i) => i.severity !== "info").map(formatIssue), stack).toEqual([]);
      expect(catalog.workshops.map((w) => [w.name, w.locations])).toEqual([["Docker101", locations], ["GitIntro", locations], ["Python101", locations]]);
      expect(catalog.workshops.every((w) => w.title.length > w.name.length && !("location" in w && w.location))).toBe(true);
    }
  });

  it("Docker101's appliance gets each provider's own machine: a DigitalOcean slug on DigitalOcean, an EC2 type and the location's AMI on AWS", () => {
    const catalog = loadCatalog(path.join(ROOT, "workshops"), readStackFile(path.join(ROOT, "Pulumi.prod.yaml")));
    expect(catalog.workshops.find((w) => w.name === "Docker101")!.appliance!.machines).toEqual({
      eu: { size: "s-2vcpu-4gb", image: "debian-12-x64" },
      us: { size: "t3.medium", image: "ami-0c7217cdde317cfec" },
    });
  });

  it("Docker101's student script never adds a student to the docker group (that group is root on the appliance)", () => {
    const script = fs.readFileSync(path.join(ROOT, "workshops/WKSHP-Docker101/appliance/student.sh"), "utf8");
    expect(script).not.toMatch(/usermod[^\n]*docker|gpasswd[^\n]*docker|adduser[^\n]*docker/);
    expect(script).toMatch(/setup\)[\s\S]*reset\)[\s\S]*release\)/);
  });
});

describe("a WoD catalog as WoD publishes it", () => {
  it("the real-shaped fixture loads with 0 errors: folder is the identity, name the title, every location hosts it", () => {
    const two = stackConfig();
    const catalog = loadCatalog(FIXTURE, two);
    expect(catalog.issues.filter((i) => i.severity === "error")).toEqual([]);
    expect(catalog.workshops.map((w) => [w.name, w.title, w.locations])).toEqual([
      ["Bash101", "Bash 101 - A gentle introduction to the shell", ["eu", "us"]],
      ["Containers101", "Containers 101 - Build and run your first images", ["eu", "us"]],
      ["Legacy101", "Legacy 101 - A retired workshop kept for its replay", ["eu", "us"]],
      ["SQL101", "SQL 101 - Querying a database from a notebook", ["eu", "us"]],
    ]);
    expect(catalog.workshops[0].range).toEqual({ min: 1, max: 6 });
    expect(catalog.workshops[1].appliance).toMatchObject({ ports: { http: 14151, ssh: 14101 }, produces: ["CONTAINERTOK"] });
  });

  it("the fixture's real-world untidiness is reported as warnings that say what will happen", () => {
    const w = warnings(FIXTURE);
    expect(w).toContainEqual(expect.stringMatching(/WKSHP-Bash101\/wod\.yml: capacity: capacity 20 is above the range size 6 \(1-6\): .*seats at most 6 learners per location; lower capacity to 6/));
    expect(w).toContainEqual(
      expect.stringMatching(/WKSHP-Legacy101\/wod\.yml: range: range 1-10 overlaps Bash101 \(1-6\) on locations eu, us: Legacy101 is inactive, so it takes no registrations and slots 1-6 serve Bash101 .*activating Legacy101 as it is would be an error/),
    );
  });

  it("a wod.yml whose name is a display title is accepted; the folder gives the identity", () => {
    const dir = writeCatalog({ "WKSHP-Python101": { yml: published("Python 101 - A simple introduction to Python programming language") } });
    const { workshops, issues } = loadCatalog(dir, config);
    expect(issues.filter((i) => i.severity !== "info")).toEqual([]);
    expect(workshops[0]).toMatchObject({ name: "Python101", title: "Python 101 - A simple introduction to Python programming language", folder: "WKSHP-Python101" });
  });

  it("without a name, the title is the identity; a folder name that cannot be an identity is refused with the fix", () => {
    const dir = writeCatalog({ "WKSHP-A": { yml: { ...published("x"), name: null } }, "WKSHP-Bad Name": { yml: published("B", { range: [11, 20] }) } });
    const { workshops } = loadCatalog(dir, config);
    expect(workshops.map((w) => [w.name, w.title])).toEqual([["A", "A"]]);
    expect(errors(dir)).toEqual([expect.stringMatching(/WKSHP-Bad Name: folder name WKSHP-Bad Name: the part after WKSHP- is the workshop's id .*rename the folder/)]);
  });

  it("placement: wod:defaultLocations for a wod.yml without location; location and alternateLocation still honoured", () => {
    const cfg = stackConfig({ defaultLocations: ["us"] });
    const dir = writeCatalog({
      "WKSHP-A": { yml: published("A") },
      "WKSHP-B": { yml: published("B", { range: [11, 20], location: "eu" }) },
      "WKSHP-C": { yml: published("C", { range: [21, 30], alternateLocation: ["eu"] }) },
    });
    expect(loadCatalog(dir, cfg).workshops.map((w) => [w.name, w.locations])).toEqual([["A", ["us"]], ["B", ["eu"]], ["C", ["us", "eu"]]]);
    expect(loadCatalog(dir, config).workshops.map((w) => [w.name, w.locations])).toEqual([["A", ["eu", "us"]], ["B", ["eu"]], ["C", ["eu", "us"]]]);
  });

  it("reads every WoD field, YAML 1.1 headers and both range forms", () => {
    const dir = writeCatalog({
      "WKSHP-A": { yml: wodYml("A", { range: [1, 5], compile: ["build.sh"], replayId: 7, varpass: true, alternateLocation: "us", category: "Solo" }) },
      "WKSHP-B": { yml: `%YAML 1.1\n# seeder\n---\n${stringify(wodYml("B", { range: "[11-15]", compile: "a.sh,b.sh", replayLink: null }))}` },
      "WKSHP-C": { yml: `${stringify({ ...wodYml("C"), range: undefined })}range: [21-25]\n` },
    });
    const { workshops, issues } = loadCatalog(dir, config);
    expect(issues.filter((i) => i.severity !== "info")).toEqual([]);
    const [a, b, c] = workshops;
    expect(a).toMatchObject({ range: { min: 1, max: 5 }, compile: ["build.sh"], replayId: 7, varpass: true, category: ["Solo"], locations: ["eu", "us"] });
    expect(b).toMatchObject({ range: { min: 11, max: 15 }, compile: ["a.sh", "b.sh"], replayLink: "" });
    expect(c.range).toEqual({ min: 21, max: 25 });
  });
});

describe("messages an author can act on", () => {
  it("malformed YAML names the file and the line", () => {
    const dir = writeCatalog({ "WKSHP-A": { yml: "name: A\nactive: [true\ncapacity: 3\n" } });
    expect(errors(dir)[0]).toMatch(/WKSHP-A\/wod\.yml: invalid YAML at line \d+/);
  });

  it("wrong types and missing fields say the value, the rule and an example, never zod's wording", () => {
    const { active: _a, ...noActive } = wodYml("A", { capacity: "many", duration: 1.2345 });
    const dir = writeCatalog({ "WKSHP-A": { yml: noActive } });
    const errs = errors(dir);
    expect(errs).toContainEqual(expect.stringMatching(/WKSHP-A\/wod\.yml: capacity: got "many"; a whole number of seats, 0 or more, e\.g\. capacity: 20/));
    expect(errs).toContainEqual(expect.stringMatching(/WKSHP-A\/wod\.yml: active: missing; true \(open for registration\) or false, e\.g\. active: true/));
    expect(errs).toContainEqual(expect.stringMatching(/WKSHP-A\/wod\.yml: duration: got 1\.2345; hours, more than 0 and at most 24, in whole minutes/));
    expect(errs.join("\n")).not.toMatch(/Invalid input|expected (string|number|boolean)|received/);
  });

  it("unknown fields are warnings, not errors", () => {
    const dir = writeCatalog({ "WKSHP-A": { yml: wodYml("A", { colour: "blue" }) } });
    const { workshops, issues } = loadCatalog(dir, config);
    expect(workshops).toHaveLength(1);
    expect(issues.filter((i) => i.severity !== "info").map(formatIssue)).toEqual([expect.stringMatching(/^warning: .*WKSHP-A\/wod\.yml: colour: unknown field/)]);
    expect(hasErrors(issues)).toBe(false);
  });

  it("missing mandatory files are errors; a notebook is judged after rendering, not as raw JSON", () => {
    const dir = writeCatalog({
      "WKSHP-A": { yml: null },
      "WKSHP-B": { yml: wodYml("B", { range: [11, 15] }), files: { "0-ReadMeFirst.ipynb": null } },
      "WKSHP-C": { yml: wodYml("C", { range: [21, 25] }), files: { "1-Lab.ipynb": '{"cells": [\n{% raw %}\n],\n{% endraw %}\n"nbformat": 4}' } },
    });
    const errs = errors(dir);
    expect(errs).toContainEqual(expect.stringMatching(/WKSHP-A\/wod\.yml: missing wod\.yml/));
    expect(errs).toContainEqual(expect.stringMatching(/WKSHP-B: missing 0-ReadMeFirst\.ipynb/));
    expect(errs.some((e) => e.includes("WKSHP-C"))).toBe(false);
  });

  it("reports every error of every workshop in one run", () => {
    const dir = writeCatalog({
      "WKSHP-A": { yml: wodYml("A", { capacity: -1, active: "yes" }) },
      "WKSHP-B": { yml: "::" },
      "WKSHP-C": { yml: wodYml("C", { range: [1, 10] }), files: { "0-ReadMeFirst.ipynb": null } },
    });
    const errs = errors(dir);
    expect(errs.filter((e) => e.includes("WKSHP-A")).length).toBeGreaterThanOrEqual(2);
    expect(errs.some((e) => e.includes("WKSHP-B"))).toBe(true);
    expect(errs.some((e) => e.includes("WKSHP-C"))).toBe(true);
  });
});

describe("slots: ranges, capacity, pools", () => {
  it("overlapping ranges of active workshops on one backend are an error of both, which are quarantined; on different backends allowed", () => {
    const dir = writeCatalog({
      "WKSHP-A": { yml: wodYml("A", { range: [1, 10] }) },
      "WKSHP-B": { yml: wodYml("B", { range: [10, 20] }) },
      "WKSHP-C": { yml: wodYml("C", { range: [1, 10], location: "us" }) },
    });
    expect(errors(dir)).toEqual([
      expect.stringMatching(/WKSHP-A\/wod\.yml: range: range 1-10 overlaps B \(10-20\) on location eu: both are active, .*move one range/),
      expect.stringMatching(/WKSHP-B\/wod\.yml: range: range 10-20 overlaps A \(1-10\) on location eu: both are active, .*move one range/),
    ]);
    const catalog = loadCatalog(dir, config);
    expect(catalog.quarantined.map((q) => q.name)).toEqual(["A", "B"]);
    expect(catalog.workshops.map((w) => w.name)).toEqual(["C"]);
  });

  it("the rules between workshops apply among the healthy ones: a broken workshop's range takes nobody's slots", () => {
    const dir = writeCatalog({
      "WKSHP-A": { yml: wodYml("A", { range: [1, 10], capacity: "many" }) },
      "WKSHP-B": { yml: wodYml("B", { range: [5, 15] }) },
    });
    expect(errors(dir)).toEqual([expect.stringMatching(/WKSHP-A\/wod\.yml: capacity: got "many"/)]);
    expect(loadCatalog(dir, config).workshops.map((w) => w.name)).toEqual(["B"]);
  });

  it("overlaps involving an inactive workshop are warnings that say what happens", () => {
    const dir = writeCatalog({
      "WKSHP-A": { yml: wodYml("A", { range: [1, 10] }) },
      "WKSHP-B": { yml: wodYml("B", { range: [5, 20], active: false }) },
      "WKSHP-C": { yml: wodYml("C", { range: [15, 30], active: false }) },
    });
    expect(errors(dir)).toEqual([]);
    const w = warnings(dir);
    expect(w).toContainEqual(expect.stringMatching(/WKSHP-B\/wod\.yml: range: range 5-20 overlaps A \(1-10\) on location eu: B is inactive, so it takes no registrations and slots 5-10 serve A/));
    expect(w).toContainEqual(expect.stringMatching(/WKSHP-C\/wod\.yml: range: range 15-30 overlaps B \(5-20\) on location eu: both are inactive, so neither hands out slots; activating both as they are would be an error/));
  });

  it("capacity above the range size is a warning: seats = range size", () => {
    const dir = writeCatalog({ "WKSHP-A": { yml: wodYml("A", { capacity: 11, range: [1, 10] }) } });
    expect(errors(dir)).toEqual([]);
    expect(warnings(dir)).toEqual([expect.stringMatching(/WKSHP-A\/wod\.yml: capacity: capacity 11 is above the range size 10 \(1-10\): .*seats at most 10 learners per location/)]);
  });

  it("ranges outside a pool and unknown locations are refused, naming where the placement came from", () => {
    const dir = writeCatalog({
      "WKSHP-B": { yml: wodYml("B", { range: [95, 120] }) },
      "WKSHP-C": { yml: wodYml("C", { range: [30, 40], alternateLocation: ["mars"] }) },
      "WKSHP-D": { yml: published("D", { range: [150, 160] }) },
    });
    const errs = errors(dir);
    expect(errs).toContainEqual(expect.stringMatching(/WKSHP-B\/wod\.yml: range: range 95-120 is outside the slot pool 1-100 of location eu; widen that slot pool or move the range/));
    expect(errs).toContainEqual(expect.stringMatching(/WKSHP-C\/wod\.yml: alternateLocation: location "mars" is not in the stack config \(known: eu, us\)/));
    expect(errs).toContainEqual(expect.stringMatching(/WKSHP-D\/wod\.yml: range: range 150-160 is outside the slot pool 1-100 of location eu \(placed there by default: every location, as wod\.yml has no location\)/));
  });
});

describe("WoD flags", () => {
  it("flags without effect here are reported once per load, one line per flag naming the workshops", () => {
    const dir = writeCatalog({
      "WKSHP-A": { yml: wodYml("A", { ldap: true, compile: ["x.sh"], beta: true, priority: 2, presenter: "Ada" }) },
      "WKSHP-B": { yml: wodYml("B", { range: [11, 20], ldap: true, reset: true, replayId: 3 }) },
      "WKSHP-C": { yml: wodYml("C", { range: [21, 30], varpass: true }) },
    });
    const info = issuesOf(dir).filter((i) => !i.startsWith("error:"));
    const dirName = path.basename(dir);
    expect(info).toContainEqual(`info: ${dirName}: ldap: accepted, no effect here: no LDAP directory is managed; learners log in to the hub with their slot's password. As in WoD, ldap (like varpass) makes PASSSTU available to the notebooks (workshops: A, B)`);
    expect(info).toContainEqual(expect.stringMatching(/^info: .*: compile: accepted, no effect here: .*\(workshops: A\)$/));
    expect(info).toContainEqual(expect.stringMatching(/^info: .*: beta: accepted, no effect here: .*\(workshops: A\)$/));
    expect(info).toContainEqual(expect.stringMatching(/^info: .*: replayId: accepted, no effect here: .*\(workshops: B\)$/));
    expect(info).toContainEqual(expect.stringMatching(/^info: .*: priority: accepted, no effect here: .*\(workshops: A\)$/));
    expect(info).toContainEqual(expect.stringMatching(/^info: .*: reset: accepted, no effect here: .*no appliance.*\(workshops: B\)$/));
    expect(info).toContainEqual(expect.stringMatching(/^info: .*: description, category, .*: accepted, no effect here: shown by WoD's portal.*\(all 3 workshops\)$/));
    expect(info.filter((i) => /: ldap: /.test(i))).toHaveLength(1);
    expect(info.some((i) => /varpass/.test(i) && !/ldap/.test(i))).toBe(false); // varpass is implemented
  });
});

describe("appliances", () => {
  const appliance = (fields: Record<string, unknown> = {}) => ({ monoappliance: true, appliance: { ports: { http: 30000 }, ...fields } });

  it("an appliance workshop without its appliance block, or with a missing script, is refused with the fix", () => {
    const dir = writeCatalog({
      "WKSHP-B": { yml: wodYml("B", { range: [11, 20], monoappliance: true }) },
      "WKSHP-C": { yml: wodYml("C", { range: [21, 30], appliance: { setup: "missing.sh", ports: { web: 30000 } } }) },
    });
    const errs = errors(dir);
    expect(errs).toContainEqual(expect.stringMatching(/WKSHP-B\/wod\.yml: appliance: monoappliance is true but there is no appliance block: .*add appliance: with its ports/));
    expect(errs).toContainEqual(expect.stringMatching(/WKSHP-C\/wod\.yml: appliance\.setup: script missing\.sh not found in the workshop folder/));
  });

  it("scripts outside the folder (.., absolute, or a link leading out) are refused", () => {
    const dir = writeCatalog({
      "WKSHP-A": { yml: wodYml("A", appliance({ setup: "../WKSHP-B/s.sh" })), files: { "ok.sh": "true\n" } },
      "WKSHP-B": { yml: wodYml("B", { range: [11, 20], ...appliance({ studentSetup: "/etc/passwd" }) }), files: { "s.sh": "true\n" } },
      "WKSHP-C": { yml: wodYml("C", { range: [21, 30], ...appliance({ setup: "link.sh" }) }) },
    });
    fs.symlinkSync("/etc/hostname", path.join(dir, "WKSHP-C", "link.sh"));
    const errs = errors(dir);
    expect(errs).toContainEqual(expect.stringMatching(/WKSHP-A\/wod\.yml: appliance\.setup: got "\.\.\/WKSHP-B\/s\.sh"; must be a path inside the workshop folder/));
    expect(errs).toContainEqual(expect.stringMatching(/WKSHP-B\/wod\.yml: appliance\.studentSetup: got "\/etc\/passwd"; must be a path inside the workshop folder/));
    expect(errs).toContainEqual(expect.stringMatching(/WKSHP-C\/wod\.yml: appliance\.setup: script link\.sh is a symbolic link leading outside the workshop folder/));
  });

  it("every student's port fits below 65535 and no two port names share a port", () => {
    const dir = writeCatalog({
      "WKSHP-A": { yml: wodYml("A", appliance({ ports: { http: 65530 } })) },
      "WKSHP-B": { yml: wodYml("B", { range: [11, 20], ...appliance({ ports: { http: 30000, ssh: 30005 } }) }) },
    });
    const errs = errors(dir);
    expect(errs).toContainEqual(expect.stringMatching(/WKSHP-A\/wod\.yml: appliance\.ports\.http: base 65530 \+ 10 slots \(1-10\) reaches port 65539, above 65535; use a base of at most 65526/));
    expect(errs).toContainEqual(expect.stringMatching(/WKSHP-B\/wod\.yml: appliance\.ports\.ssh: ports 30005-30014 overlap appliance\.ports\.http \(30000-30009\) on the same appliance/));
  });

  it("on an existing machine every appliance shares the backend: port ranges of active workshops may not overlap, nor cover the hub's ports", () => {
    const cfg = parseStackConfig({ locations: [{ name: "lab", provider: "existing", host: "192.0.2.5", slotPool: { min: 1, max: 100 } }] }, "t");
    const dir = writeCatalog({
      "WKSHP-A": { yml: wodYml("A", { location: "lab", ...appliance({ ports: { http: 30000 } }) }) },
      "WKSHP-B": { yml: wodYml("B", { location: "lab", range: [11, 20], ...appliance({ ports: { http: 30005 } }) }) },
      "WKSHP-C": { yml: wodYml("C", { location: "lab", range: [21, 30], ...appliance({ ports: { web: 7995 } }) }) },
      "WKSHP-D": { yml: wodYml("D", { location: "lab", range: [31, 40], active: false, ...appliance({ ports: { web: 30008 } }) }) },
    });
    const errs = errors(dir, cfg);
    expect(errs).toContainEqual(expect.stringMatching(/WKSHP-B\/wod\.yml: appliance\.ports\.http: ports 30005-30014 overlap A appliance\.ports\.http \(30000-30009\) on location lab, where both appliances run on the backend machine: two students would get one port/));
    expect(errs).toContainEqual(expect.stringMatching(/WKSHP-C\/wod\.yml: appliance\.ports\.web: ports 7995-8004 include port 8000, which the hub uses on location lab/));
    expect(errs.some((e) => e.includes("WKSHP-D"))).toBe(false);
    expect(warnings(dir, cfg)).toContainEqual(expect.stringMatching(/WKSHP-D\/wod\.yml: appliance\.ports\.web: .*harmless while one is inactive/));
  });

  it("machine size and image fit each location's provider: per-provider values, location defaults, or an error naming the location", () => {
    const cfg = parseStackConfig({
      locations: [
        { name: "eu", slotPool: { min: 1, max: 100 } },
        { name: "us", provider: "aws", region: "us-east-1", size: "m6i.xlarge", image: "ami-0123456789abcdef0", slotPool: { min: 1, max: 100 }, appliance: { size: "c6i.large" } },
      ],
    }, "t");
    const dir = writeCatalog({
      "WKSHP-A": { yml: published("A", appliance({ size: { digitalocean: "s-4vcpu-8gb", aws: "t3.large" }, image: { digitalocean: "docker-20-04" } })) },
      "WKSHP-B": { yml: published("B", { range: [11, 20], ...appliance() }) },
      "WKSHP-C": { yml: published("C", { range: [21, 30], ...appliance({ size: "s-2vcpu-4gb", image: "debian-12-x64" }) }) },
    });
    const catalog = loadCatalog(dir, cfg);
    expect(catalog.workshops.find((w) => w.name === "A")!.appliance!.machines).toEqual({ eu: { size: "s-4vcpu-8gb", image: "docker-20-04" }, us: { size: "t3.large", image: "ami-0123456789abcdef0" } });
    expect(catalog.workshops.find((w) => w.name === "B")!.appliance!.machines).toEqual({ eu: { size: "s-2vcpu-4gb", image: "debian-12-x64" }, us: { size: "c6i.large", image: "ami-0123456789abcdef0" } });
    const errs = catalog.issues.filter((i) => i.severity === "error").map(formatIssue);
    expect(errs).toContainEqual(expect.stringMatching(/WKSHP-C\/wod\.yml: appliance\.size: "s-2vcpu-4gb" from wod\.yml is not an EC2 instance type .* at location us: write size: \{digitalocean: …, aws: …\}/));
    expect(errs).toContainEqual(expect.stringMatching(/WKSHP-C\/wod\.yml: appliance\.image: "debian-12-x64" from wod\.yml is not an AMI id .* at location us/));
  });

  it("a produced value may not hide a stack variable or a platform variable", () => {
    const cfg = stackConfig({ variables: { SPARKTOK: "x" } });
    const dir = writeCatalog({ "WKSHP-A": { yml: wodYml("A", appliance({ produces: ["SPARKTOK", "STDID"] })) } });
    const errs = errors(dir, cfg);
    expect(errs).toContainEqual(expect.stringMatching(/WKSHP-A\/wod\.yml: appliance\.produces: SPARKTOK is also in the stack's wod:variables/));
    expect(errs).toContainEqual(expect.stringMatching(/WKSHP-A\/wod\.yml: appliance\.produces: STDID is set by the platform for every slot/));
  });
});

describe("hostile or broken wod.yml files are refused without a stack trace", () => {
  it("a wod.yml that is a folder, a link leading outside, an alias bomb or huge", () => {
    const dir = writeCatalog({
      "WKSHP-A": { yml: null },
      "WKSHP-B": { yml: null },
      "WKSHP-C": { yml: `a: &a ["x","x","x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\nname: C\n` },
      "WKSHP-D": { yml: `name: D\ndescription: "${"x".repeat(70_000)}"\n` },
      "WKSHP-E": { yml: null, files: { "real.yml": stringify(wodYml("E", { range: [41, 50] })) } },
    });
    fs.mkdirSync(path.join(dir, "WKSHP-A", "wod.yml"));
    fs.symlinkSync("/etc/hostname", path.join(dir, "WKSHP-B", "wod.yml"));
    fs.symlinkSync("real.yml", path.join(dir, "WKSHP-E", "wod.yml")); // inside the folder: fine
    const errs = errors(dir);
    expect(errs).toContainEqual(expect.stringMatching(/WKSHP-A\/wod\.yml: wod\.yml is a folder; it must be a file/));
    expect(errs).toContainEqual(expect.stringMatching(/WKSHP-B\/wod\.yml: wod\.yml is a symbolic link leading outside the workshop folder/));
    expect(errs).toContainEqual(expect.stringMatching(/WKSHP-C\/wod\.yml: YAML aliases expand too far .*write the values out/));
    expect(errs).toContainEqual(expect.stringMatching(/WKSHP-D\/wod\.yml: wod\.yml is 700\d\d bytes; .*refused/));
    expect(errs.some((e) => e.includes("WKSHP-E"))).toBe(false);
    expect(errs.join("\n")).not.toMatch(/\n\s+at /);
  });
});

describe("content hash", () => {
  it("editing one notebook changes that workshop's content hash and no other", () => {
    const dir = writeCatalog({ "WKSHP-A": { yml: wodYml("A") }, "WKSHP-B": { yml: wodYml("B", { range: [11, 20] }) } });
    const before = loadCatalog(dir, config).workshops;
    fs.appendFileSync(path.join(dir, "WKSHP-A", "0-ReadMeFirst.ipynb"), "\n");
    const after = loadCatalog(dir, config).workshops;
    expect(after[0].contentHash).not.toBe(before[0].contentHash);
    expect(after[1].contentHash).toBe(before[1].contentHash);
  });
});
