import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { readStackFile } from "../infra/config";
import { hasErrors, loadCatalog } from "../infra/catalog/load";
import { formatIssue } from "../infra/catalog/schema";
import { ROOT } from "../infra/load";
import { stackConfig, wodYml, writeCatalog } from "./support/fixtures";

const config = stackConfig();
const errors = (dir: string) => loadCatalog(dir, config).issues.filter((i) => i.severity === "error").map(formatIssue);

describe("workshop catalog", () => {
  it("the shipped catalog is valid for the dev and prod stacks", () => {
    for (const stack of ["dev", "prod"]) {
      const cfg = readStackFile(path.join(ROOT, `Pulumi.${stack}.yaml`));
      // prod hosts the catalog elsewhere; check what the catalog says against dev's locations
      if (stack === "dev") {
        const catalog = loadCatalog(path.join(ROOT, "workshops"), cfg);
        expect(catalog.issues.filter((i) => i.severity === "error")).toEqual([]);
        expect(catalog.workshops.map((w) => w.name).sort()).toEqual(["Docker101", "GitIntro", "Python101"]);
      }
      expect(cfg.locations.length).toBeGreaterThan(0);
    }
  });

  it("reads every WoD field, and both range forms", () => {
    const dir = writeCatalog({
      "WKSHP-A": { yml: wodYml("A", { range: [1, 5], compile: ["build.sh"], replayId: 7, varpass: true, alternateLocation: "us", category: "Solo" }) },
      "WKSHP-B": { yml: wodYml("B", { range: "[11-15]" }) },
      "WKSHP-C": { yml: wodYml("C", { range: ["21-25"] }) },
    });
    const { workshops, issues } = loadCatalog(dir, config);
    expect(issues).toEqual([]);
    const [a, b, c] = workshops;
    expect(a).toMatchObject({ range: { min: 1, max: 5 }, compile: ["build.sh"], replayId: 7, varpass: true, category: ["Solo"], locations: ["eu", "us"] });
    expect(b.range).toEqual({ min: 11, max: 15 });
    expect(c.range).toEqual({ min: 21, max: 25 });
  });

  it("malformed YAML names the file and the line", () => {
    const dir = writeCatalog({ "WKSHP-A": { yml: "name: A\nactive: [true\ncapacity: 3\n" } });
    const [e] = errors(dir);
    expect(e).toMatch(/WKSHP-A\/wod\.yml: invalid YAML at line \d+/);
  });

  it("wrong types name the file, the field and the reason", () => {
    const dir = writeCatalog({ "WKSHP-A": { yml: wodYml("A", { capacity: "many", duration: -2 }) } });
    const errs = errors(dir);
    expect(errs.some((e) => /WKSHP-A\/wod\.yml: capacity: .*number/i.test(e))).toBe(true);
    expect(errs.some((e) => /WKSHP-A\/wod\.yml: duration: /.test(e))).toBe(true);
  });

  it("unknown fields are warnings, not errors", () => {
    const dir = writeCatalog({ "WKSHP-A": { yml: wodYml("A", { colour: "blue" }) } });
    const { workshops, issues } = loadCatalog(dir, config);
    expect(workshops).toHaveLength(1);
    expect(issues.map(formatIssue)).toEqual([expect.stringMatching(/^warning: .*WKSHP-A\/wod\.yml: colour: unknown field/)]);
    expect(hasErrors(issues)).toBe(false);
  });

  it("missing mandatory files and broken notebooks are errors", () => {
    const dir = writeCatalog({
      "WKSHP-A": { yml: null },
      "WKSHP-B": { yml: wodYml("B", { range: [11, 15] }), files: { "0-ReadMeFirst.ipynb": null } },
      "WKSHP-C": { yml: wodYml("C", { range: [21, 25] }), files: { "1-Lab.ipynb": "{ not json", "2-Lab.ipynb": "{\"cells\": 3}" } },
    });
    const errs = errors(dir);
    expect(errs).toContainEqual(expect.stringMatching(/WKSHP-A\/wod\.yml: missing wod\.yml/));
    expect(errs).toContainEqual(expect.stringMatching(/WKSHP-B: missing 0-ReadMeFirst\.ipynb/));
    expect(errs).toContainEqual(expect.stringMatching(/WKSHP-C\/1-Lab\.ipynb: invalid notebook JSON/));
    expect(errs).toContainEqual(expect.stringMatching(/WKSHP-C\/2-Lab\.ipynb: not a notebook/));
  });

  it("overlapping ranges on one backend are refused, on different backends allowed", () => {
    const dir = writeCatalog({
      "WKSHP-A": { yml: wodYml("A", { range: [1, 10] }) },
      "WKSHP-B": { yml: wodYml("B", { range: [10, 20] }) },
      "WKSHP-C": { yml: wodYml("C", { range: [1, 10], location: "us" }) },
    });
    expect(errors(dir)).toEqual([expect.stringMatching(/WKSHP-B\/wod\.yml: range: range 10-20 overlaps A \(1-10\) on location eu/)]);
  });

  it("capacity above the range size, ranges outside the pool and unknown locations are refused", () => {
    const dir = writeCatalog({
      "WKSHP-A": { yml: wodYml("A", { capacity: 11, range: [1, 10] }) },
      "WKSHP-B": { yml: wodYml("B", { range: [95, 120] }) },
      "WKSHP-C": { yml: wodYml("C", { range: [30, 40], alternateLocation: ["mars"] }) },
    });
    const errs = errors(dir);
    expect(errs).toContainEqual(expect.stringMatching(/WKSHP-A\/wod\.yml: capacity: capacity 11 is above the range size 10/));
    expect(errs).toContainEqual(expect.stringMatching(/WKSHP-B\/wod\.yml: range: range 95-120 is outside the slot pool 1-100 of location eu/));
    expect(errs).toContainEqual(expect.stringMatching(/WKSHP-C\/wod\.yml: alternateLocation: location "mars" is not in the stack config/));
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

  it("a folder whose name disagrees with wod.yml, or an appliance workshop without its appliance, is refused", () => {
    const dir = writeCatalog({
      "WKSHP-A": { yml: wodYml("Other") },
      "WKSHP-B": { yml: wodYml("B", { range: [11, 20], monoappliance: true }) },
      "WKSHP-C": { yml: wodYml("C", { range: [21, 30], appliance: { setup: "missing.sh", ports: { web: 30000 } } }) },
    });
    const errs = errors(dir);
    expect(errs).toContainEqual(expect.stringMatching(/WKSHP-A\/wod\.yml: name: folder is WKSHP-A but name says WKSHP-Other/));
    expect(errs).toContainEqual(expect.stringMatching(/WKSHP-B\/wod\.yml: appliance: .*need an appliance block/));
    expect(errs).toContainEqual(expect.stringMatching(/WKSHP-C\/wod\.yml: appliance: script missing\.sh not found/));
  });

  it("editing one notebook changes that workshop's content hash and no other", () => {
    const dir = writeCatalog({ "WKSHP-A": { yml: wodYml("A") }, "WKSHP-B": { yml: wodYml("B", { range: [11, 20] }) } });
    const before = loadCatalog(dir, config).workshops;
    fs.appendFileSync(path.join(dir, "WKSHP-A", "0-ReadMeFirst.ipynb"), "\n");
    const after = loadCatalog(dir, config).workshops;
    expect(after[0].contentHash).not.toBe(before[0].contentHash);
    expect(after[1].contentHash).toBe(before[1].contentHash);
  });
});
