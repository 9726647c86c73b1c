// The plan's render check. The first block drives checkTemplates with a scripted renderer (the
// mapping from render problems to catalog errors); the second runs the host renderer itself,
// components/host/render.js, over real-shaped folders.
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { parseStackConfig, readStackFile } from "../infra/config";
import { loadCatalog } from "../infra/catalog/load";
import { formatIssue } from "../infra/catalog/schema";
import { type CheckFolder, checkTemplates, loadCheckedCatalog, loadRenderer, type RenderProblem } from "../infra/catalog/templates";
import { ROOT } from "../infra/load";
import { stackConfig, wodYml, writeCatalog } from "./support/fixtures";

const FIXTURE = path.join(ROOT, "test/fixtures/wod-catalog");
const config = stackConfig(); // eu (fqdn eu.example.org) and us (no fqdn), both hub port 8000
const notebook = (...lines: string[]) =>
  JSON.stringify({ cells: [{ cell_type: "markdown", metadata: {}, source: lines.map((l) => `${l}\n`) }], metadata: {}, nbformat: 4, nbformat_minor: 5 }, null, 1);
const lineOf = (text: string, needle: string) => text.slice(0, text.indexOf(needle)).split("\n").length;

describe("render problems become catalog errors (scripted renderer)", () => {
  const scripted = (answer: (dir: string, vars: Record<string, string>) => RenderProblem[]) => {
    const calls: { dir: string; vars: Record<string, string> }[] = [];
    const check: CheckFolder = (dir, vars) => (calls.push({ dir, vars }), answer(dir, vars));
    return { check, calls };
  };

  it("each workshop is rendered for the first slot of its range at every location hosting it", () => {
    const dir = writeCatalog({ "WKSHP-A": { yml: wodYml("A", { range: [5, 9], alternateLocation: ["us"] }) }, "WKSHP-B": { yml: wodYml("B", { range: [11, 20] }) } });
    const catalog = loadCatalog(dir, config);
    const { check, calls } = scripted(() => []);
    expect(checkTemplates(catalog, config, check)).toEqual([]);
    expect(calls.map((c) => [path.basename(c.dir), c.vars.STDID, c.vars.inventory_hostname])).toEqual([["WKSHP-A", "5", "eu"], ["WKSHP-A", "5", "us"], ["WKSHP-B", "11", "eu"]]);
  });

  it("a problem names the file inside the catalog, the line and the reason, with what to do about it", () => {
    const dir = writeCatalog({ "WKSHP-A": { yml: wodYml("A", { monoappliance: true, appliance: { ports: { web: 30000 } } }) } });
    const catalog = loadCatalog(dir, config);
    const { check } = scripted(() => [
      { file: "1-Lab.ipynb", line: 12, reason: "undefined variable SPARKTOK" },
      { file: "0-ReadMeFirst.ipynb", line: 3, reason: "undefined variable PASSSTU" },
      { file: "0-ReadMeFirst.ipynb", line: 4, reason: "undefined variable HTTPPORT" },
      { file: "sub/run.sh", line: 1, reason: "unexpected end of template" },
    ]);
    const issues = checkTemplates(catalog, config, check).map(formatIssue);
    const at = path.basename(dir);
    expect(issues).toEqual([
      `error: ${at}/WKSHP-A/1-Lab.ipynb: line 12: undefined variable SPARKTOK: declare it in appliance.produces (a value the appliance's student setup writes) or set it in the stack's wod:variables (see README, "Notebook variables")`,
      `error: ${at}/WKSHP-A/0-ReadMeFirst.ipynb: line 3: undefined variable PASSSTU: the password reaches notebooks only when the workshop sets varpass: true (or ldap: true), as in WoD; add varpass: true to wod.yml`,
      expect.stringMatching(new RegExp(`^error: ${at}/WKSHP-A/0-ReadMeFirst\\.ipynb: line 4: undefined variable HTTPPORT: per-student ports come from appliance\\.ports \\(e\\.g\\. ports: \\{http: 14151\\} gives HTTPPORT`)),
      `error: ${at}/WKSHP-A/sub/run.sh: line 1: unexpected end of template`,
    ]);
  });

  it("a problem at every hosting location is reported once; one at some locations says where", () => {
    const dir = writeCatalog({ "WKSHP-A": { yml: wodYml("A", { alternateLocation: ["us"] }) } });
    const { check } = scripted((_d, vars) => [
      { file: "0-ReadMeFirst.ipynb", line: 2, reason: "undefined variable X" },
      ...(vars.inventory_hostname === "us" ? [{ file: "0-ReadMeFirst.ipynb", line: 5, reason: "undefined variable Y" }] : []),
    ]);
    const issues = checkTemplates(loadCatalog(dir, config), config, check).map((i) => i.message);
    expect(issues).toHaveLength(2);
    expect(issues[0]).toMatch(/^undefined variable X: /);
    expect(issues[1]).toMatch(/^undefined variable Y \(at location us\): /);
  });

  it("a renderer that fails on one workshop is that workshop's error; the others are still checked", () => {
    const dir = writeCatalog({ "WKSHP-A": { yml: wodYml("A") }, "WKSHP-B": { yml: wodYml("B", { range: [11, 20] }) } });
    const { check, calls } = scripted((d) => {
      if (d.endsWith("WKSHP-A")) throw new Error("EACCES: permission denied, open '1-Lab.ipynb'");
      return [];
    });
    expect(checkTemplates(loadCatalog(dir, config), config, check).map(formatIssue)).toEqual([
      expect.stringMatching(/^error: .*\/WKSHP-A: the render check failed: EACCES/),
    ]);
    expect(calls.map((c) => path.basename(c.dir))).toEqual(["WKSHP-A", "WKSHP-B"]);
  });

  it("loadCheckedCatalog is loadCatalog plus the render check", () => {
    const dir = writeCatalog({ "WKSHP-A": { yml: wodYml("A", { capacity: 50 }) } });
    const { check } = scripted(() => [{ file: "0-ReadMeFirst.ipynb", line: 1, reason: "undefined variable Z" }]);
    expect(loadCheckedCatalog(dir, config, check).issues.filter((i) => i.severity !== "info").map((i) => `${i.severity} ${i.field}`)).toEqual(["warning capacity", "error line 1"]);
  });

  it("a missing host renderer is a clear error, not a silent pass", () => {
    expect(() => loadRenderer(path.join(ROOT, "components/host/no-such-render.js"))).toThrow(/the render check needs the host renderer .*no-such-render\.js, which is missing/);
  });
});

// Needs components/host/render.js (the host renderer: checkFolder(srcDir, vars) -> [{file, line, reason}]).
describe("rendering as the host renders (components/host/render.js)", () => {
  const render = () => loadRenderer();

  it("the real-shaped WoD fixture renders for a sample slot with 0 problems at every location", () => {
    const two = parseStackConfig({
      locations: [
        { name: "eu", fqdn: "eu.example.org", slotPool: { min: 1, max: 100 } },
        { name: "us", provider: "aws", region: "us-east-1", size: "m6i.xlarge", image: "ami-0123456789abcdef0", hubPort: 443, slotPool: { min: 1, max: 100 } },
      ],
    }, "t");
    const catalog = loadCheckedCatalog(FIXTURE, two, render());
    expect(catalog.issues.filter((i) => i.severity === "error").map(formatIssue)).toEqual([]);
    expect(catalog.workshops).toHaveLength(4);
  });

  it("the fixture's Ansible templates/*.j2 are never rendered: their variables are not ours and no problem is reported", () => {
    const j2 = fs.readFileSync(path.join(FIXTURE, "WKSHP-Containers101/templates/registries.conf.j2"), "utf8");
    expect(j2).toMatch(/\{\{ ansible_facts\['distribution'\] \}\}/);
    const problems = render()(path.join(FIXTURE, "WKSHP-Containers101"), { STDID: "41" });
    expect(problems.filter((p) => p.file.includes("templates/"))).toEqual([]);
  });

  it("the shipped catalog renders cleanly for the dev and prod stacks", () => {
    for (const stack of ["dev", "prod"]) {
      const cfg = readStackFile(path.join(ROOT, `Pulumi.${stack}.yaml`));
      expect(checkTemplates(loadCatalog(path.join(ROOT, "workshops"), cfg), cfg, render()).map(formatIssue), stack).toEqual([]);
    }
  });

  it("an undefined variable is an error at plan time naming the file, the line and the variable; declaring it fixes it", () => {
    const lab = notebook("# Lab", "Your token: {{ SPARKTOK }}");
    const spec = (produces: string[]) => ({
      "WKSHP-Spark": { yml: wodYml("Spark", { monoappliance: true, appliance: { ports: { http: 17161 }, produces } }), files: { "1-Lab.ipynb": lab } },
    });
    const before = loadCheckedCatalog(writeCatalog(spec([])), config, render()).issues.filter((i) => i.severity === "error");
    expect(before).toHaveLength(1);
    expect(before[0].file).toMatch(/WKSHP-Spark\/1-Lab\.ipynb$/);
    expect(before[0].field).toBe(`line ${lineOf(lab, "SPARKTOK")}`);
    expect(before[0].message).toMatch(/SPARKTOK.*declare it in appliance\.produces/);
    expect(loadCheckedCatalog(writeCatalog(spec(["SPARKTOK"])), config, render()).issues.filter((i) => i.severity === "error")).toEqual([]);
  });

  it("PASSSTU is undefined unless the workshop sets varpass (or ldap), as in WoD", () => {
    const files = { "0-ReadMeFirst.ipynb": notebook("Password: {{ PASSSTU }}") };
    const without = loadCheckedCatalog(writeCatalog({ "WKSHP-A": { yml: wodYml("A"), files } }), config, render()).issues.filter((i) => i.severity === "error");
    expect(without.map((i) => i.message)).toEqual([expect.stringMatching(/PASSSTU.*add varpass: true/)]);
    for (const flag of ["varpass", "ldap"]) {
      const withFlag = loadCheckedCatalog(writeCatalog({ "WKSHP-A": { yml: wodYml("A", { [flag]: true }), files } }), config, render());
      expect(withFlag.issues.filter((i) => i.severity === "error"), flag).toEqual([]);
    }
  });

  it("WoD's hostvars forms and per-student ports resolve for an appliance workshop", () => {
    const files = {
      "0-ReadMeFirst.ipynb": notebook(
        "ssh -p {{ SSHPORT }} student{{ STDID }}@{{ hostvars[inventory_hostname]['IP-WKSHP-Docker101'] }}",
        "web {{ HTTPPORT }} from {{ hostvars[inventory_hostname]['HTTPPORT-WKSHP-Docker101'] }}",
      ),
    };
    const yml = wodYml("Docker101", { monoappliance: true, appliance: { ports: { http: 14151, ssh: 14101 } } });
    expect(loadCheckedCatalog(writeCatalog({ "WKSHP-Docker101": { yml, files } }), config, render()).issues.filter((i) => i.severity === "error")).toEqual([]);
    const other = { "0-ReadMeFirst.ipynb": notebook("{{ hostvars[inventory_hostname]['IP-WKSHP-Other'] }}") };
    const errs = loadCheckedCatalog(writeCatalog({ "WKSHP-Docker101": { yml, files: other } }), config, render()).issues.filter((i) => i.severity === "error");
    expect(errs.map((i) => i.message)).toEqual([expect.stringMatching(/IP-WKSHP-Other.*only this workshop's own appliance address \(IP-WKSHP-Docker101\)/)]);
  });

  it("a notebook is judged after rendering: {% raw %} lines between JSON lines pass, a notebook broken by rendering fails", () => {
    const rawBetween = '{\n "cells": [\n{% raw %}\n{% endraw %}\n ],\n "metadata": {},\n "nbformat": 4,\n "nbformat_minor": 5\n}\n';
    const brokenAfter = '{\n "cells": []{% if MODEWS == \'CHLG\' %},{% endif %}\n "metadata": {},\n "nbformat": 4\n}\n';
    const dir = writeCatalog({ "WKSHP-A": { yml: wodYml("A"), files: { "1-Raw.ipynb": rawBetween, "2-Broken.ipynb": brokenAfter } } });
    const errs = loadCheckedCatalog(dir, config, render()).issues.filter((i) => i.severity === "error").map(formatIssue);
    expect(errs).toHaveLength(1);
    expect(errs[0]).toMatch(/WKSHP-A\/2-Broken\.ipynb: /);
  });

  it("a problem that depends on the location says where", () => {
    const cfg = stackConfig({ locations: [{ name: "eu", fqdn: "eu.example.org", slotPool: { min: 1, max: 100 } }, { name: "us", hubPort: 443, slotPool: { min: 1, max: 100 } }] });
    const files = { "0-ReadMeFirst.ipynb": notebook("{% if WODBEPORT == '8000' %}{{ DEV_ONLY }}{% endif %}") };
    const errs = loadCheckedCatalog(writeCatalog({ "WKSHP-A": { yml: wodYml("A", { alternateLocation: ["us"] }), files } }), cfg, render()).issues.filter((i) => i.severity === "error");
    expect(errs.map((i) => i.message)).toEqual([expect.stringMatching(/DEV_ONLY.* \(at location eu\)/)]);
  });
});

describe("a workshop in error: every error of every file at once", () => {
  const render = () => loadRenderer();
  const errorsOf = (dir: string, cfg = config) => loadCheckedCatalog(dir, cfg, render()).issues.filter((i) => i.severity === "error").map(formatIssue);

  it("a wod.yml error no longer hides the templates' errors, rendered with what the wod.yml could tell", () => {
    const lab = notebook("Port {{ HTTPPORT }} for student{{ STDID }}", "{{ ONE }} {{ TWO }}");
    const yml = wodYml("A", { capacity: "many", range: [5, 9], appliance: { ports: { http: 14151 } } });
    const errs = errorsOf(writeCatalog({ "WKSHP-A": { yml, files: { "1-Lab.ipynb": lab } } }));
    expect(errs).toEqual([
      expect.stringMatching(/WKSHP-A\/wod\.yml: capacity: got "many"/),
      expect.stringMatching(new RegExp(`WKSHP-A/1-Lab\\.ipynb: line ${lineOf(lab, "ONE")}: 'ONE' is undefined`)),
      expect.stringMatching(new RegExp(`WKSHP-A/1-Lab\\.ipynb: line ${lineOf(lab, "TWO")}: 'TWO' is undefined`)),
    ]);
  });

  it("a field in error offers what it could have provided: no false PASSSTU or appliance address errors", () => {
    const files = { "0-ReadMeFirst.ipynb": notebook("{{ PASSSTU }} on {{ hostvars[inventory_hostname]['IP-WKSHP-A'] }}") };
    const unreadable = errorsOf(writeCatalog({ "WKSHP-A": { yml: "name: A\nactive: [true\n", files } }));
    expect(unreadable).toEqual([expect.stringMatching(/WKSHP-A\/wod\.yml: invalid YAML/)]);
    const badFlags = errorsOf(writeCatalog({ "WKSHP-A": { yml: wodYml("A", { varpass: "yes", appliance: { ports: "none" } }), files } }));
    expect(badFlags).toEqual([expect.stringMatching(/wod\.yml: varpass: got "yes"/), expect.stringMatching(/wod\.yml: appliance\.ports: got "none"/)]);
    // A field that holds is taken as it is: varpass absent means no PASSSTU, as in WoD.
    const absent = errorsOf(writeCatalog({ "WKSHP-A": { yml: wodYml("A", { capacity: -1 }), files: { "0-ReadMeFirst.ipynb": notebook("{{ PASSSTU }}") } } }));
    expect(absent).toContainEqual(expect.stringMatching(/'PASSSTU' is undefined: .*add varpass: true/));
  });

  it("hints: a hyphenated IP-WKSHP-* or *PORT-WKSHP-* name is a wod:variables entry; a stack-specific value is not an appliance port", () => {
    const lab = notebook(
      "{{ hostvars[inventory_hostname]['IP-WKSHP-A'] }}",
      "{{ hostvars[inventory_hostname]['HTTPPORT-WKSHP-A'] }}",
      "{{ SHAREDPORT }}",
    );
    const errs = errorsOf(writeCatalog({ "WKSHP-A": { yml: wodYml("A"), files: { "1-Lab.ipynb": lab } } }));
    expect(errs).toEqual([
      expect.stringMatching(/'hostvars\[inventory_hostname\]\['IP-WKSHP-A'\]' is undefined: WoD's backend inventory defined IP-WKSHP-A; .*set it in the stack's wod:variables \(wod:variables: \{IP-WKSHP-A: 10\.0\.0\.5\}; a name may hold '-'\); if the workshop has an appliance of its own, add an appliance block/),
      expect.stringMatching(/'hostvars\[inventory_hostname\]\['HTTPPORT-WKSHP-A'\]' is undefined: a port WoD's backend inventory defined, the same for every learner: a stack-specific value, not an appliance port: set it in the stack's wod:variables \(wod:variables: \{HTTPPORT-WKSHP-A: 8080\}/),
      expect.stringMatching(/'SHAREDPORT' is undefined: this workshop has no appliance, so SHAREDPORT is a stack-specific value .*not an appliance port: set it in the stack's wod:variables/),
    ]);
    // Set as the hints say, they render.
    const cfg = stackConfig({ variables: { "IP-WKSHP-A": "10.0.0.5", "HTTPPORT-WKSHP-A": "8080", SHAREDPORT: "9000" } });
    expect(errorsOf(writeCatalog({ "WKSHP-A": { yml: wodYml("A"), files: { "1-Lab.ipynb": lab } } }), cfg)).toEqual([]);
  });
});
