import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import {
  ConfigError, MAX_SLOT_UID, parseStackConfig, readPulumiConfig, readSecretVariables, readSshPrivateKey, readStackFile, StackConfig, STRING_KEYS,
} from "../infra/config";
import { ROOT } from "../infra/load";

const loc = (fields: Record<string, unknown> = {}) => ({ name: "eu", slotPool: { min: 1, max: 100 }, ...fields });
const messageOf = (run: () => unknown): string => {
  try {
    run();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error("expected a ConfigError");
};
const stackFile = (text: string) => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "wod-")), "Pulumi.x.yaml");
  fs.writeFileSync(file, text);
  return file;
};
const LOCATIONS = "  wod:locations:\n    - { name: eu, slotPool: { min: 1, max: 100 } }\n";

describe("stack config", () => {
  it("the dev and prod stack files load with their defaults filled in", () => {
    const dev = readStackFile(path.join(ROOT, "Pulumi.dev.yaml"));
    expect(dev.locations.map((l) => [l.name, l.hubPort, l.uidOffset])).toEqual([["dev", 8000, 2000]]);
    expect(dev.archive.enabled).toBe(false);
    expect(dev.brand).toMatchObject({ logo: "", surveyUrl: "" });
    expect(dev.variables).toEqual({});
    const prod = readStackFile(path.join(ROOT, "Pulumi.prod.yaml"));
    expect(prod.locations.map((l) => l.name)).toEqual(["eu", "us"]);
    expect(prod.studentServers).toMatchObject({ enabled: true, grantLesson: "js4", revokeLesson: "js5", idleDays: 21 });
    expect(prod.archive).toMatchObject({ enabled: true, expireDays: 180 });
  });

  it("every wod: key is documented in the README; Pulumi.yaml declares no key a fresh stack lacks", () => {
    const project = parseYaml(fs.readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8"));
    const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
    for (const key of [...Object.keys(StackConfig.shape), "sshPrivateKey"]) expect(readme).toContain(`\`wod:${key}\``);
    const defaults = StackConfig.parse({ locations: [loc()] }) as Record<string, unknown>;
    // The engine refuses every preview when a declared key has no value and no default (issue 9, item 2).
    for (const [key, decl] of Object.entries(project.config ?? {})) {
      expect(decl, `Pulumi.yaml config.${key}`).toHaveProperty("default");
      expect((decl as { default: unknown }).default).toEqual(defaults[key]);
    }
    expect(project.config?.sshPrivateKey).toBeUndefined();
  });

  it("bad values name the file, the key path, the value and the rule, all at once, in plain words", () => {
    const message = messageOf(() =>
      parseStackConfig({ locations: [{ name: "EU!", slotPool: { min: 5, max: "x" } }], warningMinutes: -1, colour: "blue" }, "Pulumi.bad.yaml"),
    );
    expect(message).toMatch(/Pulumi\.bad\.yaml: wod:locations\.0\.name: got "EU!"; lower-case letters, digits and dashes/);
    expect(message).toMatch(/Pulumi\.bad\.yaml: wod:locations\.0\.slotPool\.max: got "x"; a whole number, 1 or more/);
    expect(message).toMatch(/Pulumi\.bad\.yaml: wod:warningMinutes: got -1; a whole number of minutes from 0 to 1440/);
    expect(message).toMatch(/Pulumi\.bad\.yaml: wod:colour: unknown key; known keys here: locations, defaultLocations/);
    expect(message).not.toMatch(/Invalid input|expected (string|number)|received/);
  });

  it("a missing required key says so and shows how to write it", () => {
    expect(messageOf(() => parseStackConfig({}, "s"))).toMatch(/s: wod:locations: missing; a list of locations, each with at least name and slotPool/);
  });

  it("rules across keys: duplicate locations, inverted pools, existing machines without a host", () => {
    expect(() =>
      parseStackConfig({ locations: [{ name: "a", slotPool: { min: 9, max: 1 } }, { name: "a", provider: "existing", slotPool: { min: 1, max: 2 } }] }, "s"),
    ).toThrow(/locations\.0\.slotPool: min 9 is above max 1[\s\S]*locations\.1\.name: location "a" is declared twice[\s\S]*locations\.1\.host: missing/);
  });

  it(`slot users keep valid, ordinary uids: slot + uidOffset at most ${MAX_SLOT_UID}`, () => {
    expect(parseStackConfig({ locations: [loc({ slotPool: { min: 1, max: MAX_SLOT_UID - 2000 } })] }, "s").locations[0].slotPool.max).toBe(58000);
    expect(messageOf(() => parseStackConfig({ locations: [loc({ slotPool: { min: 1, max: 3_000_000_000 } })] }, "s"))).toMatch(
      /wod:locations\.0\.slotPool\.max: got 3000000000; slot \+ uidOffset \(2000\) is the slot user's uid and must stay at or below 60000 .*use at most 58000/,
    );
    expect(messageOf(() => parseStackConfig({ locations: [loc({ uidOffset: 59990 })] }, "s"))).toMatch(/use at most 10/);
  });

  it("admin CIDRs must be CIDRs, host names must be host names", () => {
    const message = messageOf(() =>
      parseStackConfig({ locations: [loc({ fqdn: "eu workshops.example.org" }), loc({ name: "x", provider: "existing", host: "not a host" })], adminCidrs: ["203.0.113.0/24", "10.0.0.1", "2001:db8::/129", "anywhere"] }, "s"),
    );
    expect(message).toMatch(/wod:locations\.0\.fqdn: got "eu workshops\.example\.org"; must be a host name .*no spaces/);
    expect(message).toMatch(/wod:locations\.1\.host: got "not a host"; must be a host name/);
    expect(message).toMatch(/wod:adminCidrs\.1: got "10\.0\.0\.1"; must be an address with a prefix length, e\.g\. 203\.0\.113\.0\/24, or 203\.0\.113\.7\/32 for one address/);
    expect(message).toMatch(/wod:adminCidrs\.2: got "2001:db8::\/129"/);
    expect(message).toMatch(/wod:adminCidrs\.3: got "anywhere"/);
    expect(message).not.toMatch(/adminCidrs\.0/);
    const ok = parseStackConfig({ locations: [loc({ fqdn: "eu.workshops.example.org" }), loc({ name: "x", provider: "existing", host: "192.0.2.10" })], adminCidrs: ["2001:db8::/32"] }, "s");
    expect(ok.locations[1].host).toBe("192.0.2.10");
  });

  it("an aws location needs an EC2 instance type and an AMI: DigitalOcean defaults are refused, naming the key", () => {
    const message = messageOf(() => parseStackConfig({ locations: [loc({ provider: "aws", region: "us-east-1" })] }, "s"));
    expect(message).toMatch(/wod:locations\.0\.size: got "s-4vcpu-8gb"; is not an EC2 instance type/);
    expect(message).toMatch(/wod:locations\.0\.image: got "debian-12-x64"; is not an AMI id/);
    expect(() => parseStackConfig({ locations: [loc({ provider: "aws", size: "m6i.xlarge", image: "ami-0123456789abcdef0" })] }, "s")).not.toThrow();
  });

  it("wod:defaultLocations must name configured locations; absent, workshops without a location go everywhere", () => {
    expect(messageOf(() => parseStackConfig({ locations: [loc()], defaultLocations: ["mars"] }, "s"))).toMatch(/wod:defaultLocations: location "mars" is not in wod:locations \(known: eu\)/);
    expect(parseStackConfig({ locations: [loc(), loc({ name: "us" })], defaultLocations: ["us"] }, "s").defaultLocations).toEqual(["us"]);
  });

  it("wod:variables may not redefine what the platform sets per slot", () => {
    expect(messageOf(() => parseStackConfig({ locations: [loc()], variables: { STDID: "7", OK_NAME: "x" } }, "s"))).toMatch(
      /wod:variables\.STDID: STDID is set by the platform for every slot .*choose another name/,
    );
    expect(messageOf(() => parseStackConfig({ locations: [loc()], variables: { "bad name": "x" } }, "s"))).toMatch(/wod:variables\.bad name: /);
  });

  it("the plan reads the stack file as the engine does: `pulumi config set wod:warningMinutes 30` stores text, `wod:branding: 2024` is text", () => {
    const cfg = readStackFile(stackFile(`config:\n${LOCATIONS}  wod:warningMinutes: "30"\n  wod:branding: 2024\n  wod:archive: '{"enabled": true}'\n`));
    expect(cfg.warningMinutes).toBe(30);
    expect(cfg.branding).toBe("2024");
    expect(cfg.archive.enabled).toBe(true);
    expect(messageOf(() => readStackFile(stackFile(`config:\n${LOCATIONS}  wod:warningMinutes: soon\n`)))).toMatch(/wod:warningMinutes: got "soon"; a whole number of minutes/);
  });

  it("a stack file that is not YAML is reported with its name", () => {
    expect(() => readStackFile(stackFile("config: [unclosed"))).toThrow(/Pulumi\.x\.yaml: /);
  });
});

describe("secrets in the stack file (pulumi config set --secret)", () => {
  it("wod:sshPrivateKey and wod:variables secrets are accepted as present-but-unknown", () => {
    const cfg = readStackFile(stackFile(
      `config:\n${LOCATIONS}  wod:sshPrivateKey:\n    secure: v1:AAAA\n  wod:variables:\n    SPARKTOK:\n      secure: v1:BBBB\n    LAB_URL: http://10.0.0.5:8000/v1\n`,
    ));
    expect(cfg.variables).toEqual({ SPARKTOK: { secure: "v1:BBBB" }, LAB_URL: "http://10.0.0.5:8000/v1" });
    expect(cfg).not.toHaveProperty("sshPrivateKey");
  });

  it("a secret where a plain value is needed is an error naming the key and the fix", () => {
    const message = messageOf(() => readStackFile(stackFile(`config:\n${LOCATIONS}  wod:branding:\n    secure: v1:CCCC\n`)));
    expect(message).toMatch(/Pulumi\.x\.yaml: wod:branding: is a secret \(set with --secret\) but must be a plain value; set it again without --secret/);
    const nested = messageOf(() => readStackFile(stackFile(`config:\n  wod:locations:\n    - name: eu\n      fqdn: { secure: v1:DD }\n      slotPool: { min: 1, max: 9 }\n`)));
    expect(nested).toMatch(/wod:locations\.0\.fqdn: is a secret/);
  });

  it("the private key in plain text, or all wod:variables as one secret, is refused with the command that fixes it", () => {
    expect(messageOf(() => readStackFile(stackFile(`config:\n${LOCATIONS}  wod:sshPrivateKey: "-----BEGIN OPENSSH PRIVATE KEY-----"\n`)))).toMatch(
      /wod:sshPrivateKey: is stored in plain text; .*pulumi config set --secret wod:sshPrivateKey/,
    );
    expect(messageOf(() => readStackFile(stackFile(`config:\n${LOCATIONS}  wod:variables:\n    secure: v1:EEEE\n`)))).toMatch(
      /wod:variables: is one secret for the whole map; set each variable on its own: pulumi config set --secret --path 'wod:variables\.NAME' VALUE/,
    );
  });
});

describe("config as the Pulumi engine passes it (readPulumiConfig)", () => {
  const engine = (values: Record<string, string>, secretKeys: string[] = []) => pulumi.runtime.setAllConfig(values, secretKeys);
  const value = <T>(o: pulumi.Output<T>) => new Promise<T>((resolve) => o.apply(resolve));

  it("text keys stay text (wod:branding: \"2024\" is not a number); structured keys are parsed", () => {
    engine({ "wod:branding": "2024", "wod:locations": JSON.stringify([loc()]), "wod:warningMinutes": "30", "wod:brand": JSON.stringify({ url: "https://example.org" }) });
    const cfg = readPulumiConfig();
    expect(cfg.branding).toBe("2024");
    expect(cfg.warningMinutes).toBe(30);
    expect(cfg.brand.url).toBe("https://example.org");
    expect(cfg.locations[0].name).toBe("eu");
    expect(STRING_KEYS.sort()).toEqual(["branding", "workshopsDir"]);
  });

  it("wod:variables values never enter the StackConfig; the secret reader returns them as a secret", async () => {
    engine({ "wod:locations": JSON.stringify([loc()]), "wod:variables": JSON.stringify({ SPARKTOK: "s3cret" }) }, ["wod:variables"]);
    expect(readPulumiConfig().variables).toEqual({ SPARKTOK: { secure: "" } });
    const vars = readSecretVariables();
    expect(await pulumi.isSecret(vars)).toBe(true);
    expect(await value(vars)).toEqual({ SPARKTOK: "s3cret" });
  });

  it("unknown wod: keys and malformed structures are refused by name", () => {
    engine({ "wod:locations": "[not json", "wod:brandng": "x" });
    const message = messageOf(() => readPulumiConfig());
    expect(message).toMatch(/wod:locations: got "\[not json"; not valid YAML\/JSON structure/);
    expect(message).toMatch(/wod:brandng: unknown key; known keys: locations, /);
  });

  it("a missing private key is a ConfigError with the command that sets it, not an engine stack trace", () => {
    engine({ "wod:locations": JSON.stringify([loc()]) });
    expect(messageOf(() => readSshPrivateKey())).toMatch(/wod:sshPrivateKey is not set for stack .*pulumi config set --secret wod:sshPrivateKey < ~\/\.ssh\/wod_platform/);
    engine({ "wod:sshPrivateKey": "-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----\n" }, ["wod:sshPrivateKey"]);
    expect(readSshPrivateKey()).toBeDefined();
  });
});
