import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { ConfigError, parseStackConfig, readStackFile, StackConfig } from "../infra/config";
import { ROOT } from "../infra/load";

describe("stack config", () => {
  it("the dev and prod stack files load with their defaults filled in", () => {
    const dev = readStackFile(path.join(ROOT, "Pulumi.dev.yaml"));
    expect(dev.locations.map((l) => [l.name, l.hubPort, l.uidOffset])).toEqual([["dev", 8000, 2000]]);
    expect(dev.archive.enabled).toBe(false);
    const prod = readStackFile(path.join(ROOT, "Pulumi.prod.yaml"));
    expect(prod.locations.map((l) => l.name)).toEqual(["eu", "us"]);
    expect(prod.studentServers).toMatchObject({ enabled: true, grantLesson: "js4", revokeLesson: "js5", idleDays: 21 });
    expect(prod.archive).toMatchObject({ enabled: true, expireDays: 180 });
  });

  it("every wod: key is documented in the README, and the scalar ones are typed in Pulumi.yaml", () => {
    const project = parseYaml(fs.readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8"));
    const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
    for (const key of [...Object.keys(StackConfig.shape), "sshPrivateKey"]) expect(readme).toContain(`\`wod:${key}\``);
    for (const key of ["adminSshKeys", "adminCidrs", "branding", "warningMinutes", "workshopsDir"]) {
      expect(project.config[key].default).toEqual(StackConfig.parse({ locations: [{ name: "x", slotPool: { min: 1, max: 1 } }] })[key as "branding"]);
    }
    expect(project.config.sshPrivateKey).toMatchObject({ type: "string", secret: true });
  });

  it("bad values name the file, the key path and the reason, all at once", () => {
    const run = () => parseStackConfig({ locations: [{ name: "EU!", slotPool: { min: 5, max: "x" } }], warningMinutes: -1 }, "Pulumi.bad.yaml");
    expect(run).toThrow(ConfigError);
    const message = (() => { try { run(); } catch (e) { return (e as Error).message; } })()!;
    expect(message).toMatch(/Pulumi\.bad\.yaml: wod:locations\.0\.name: /);
    expect(message).toMatch(/Pulumi\.bad\.yaml: wod:locations\.0\.slotPool\.max: /);
    expect(message).toMatch(/Pulumi\.bad\.yaml: wod:warningMinutes: /);
  });

  it("rules across keys: duplicate locations, inverted pools, existing machines without a host", () => {
    expect(() =>
      parseStackConfig({ locations: [{ name: "a", slotPool: { min: 9, max: 1 } }, { name: "a", provider: "existing", slotPool: { min: 1, max: 2 } }] }, "s"),
    ).toThrow(/locations\.0\.slotPool: min 9 is above max 1[\s\S]*locations\.1\.name: location "a" is declared twice[\s\S]*locations\.1\.host: required/);
  });

  it("a stack file that is not YAML is reported with its name", () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "wod-")), "Pulumi.x.yaml");
    fs.writeFileSync(file, "config: [unclosed");
    expect(() => readStackFile(file)).toThrow(/Pulumi\.x\.yaml: /);
  });
});
