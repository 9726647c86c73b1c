import * as path from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { loadCatalog } from "../infra/catalog/load";
import type { Workshop } from "../infra/catalog/schema";
import { SAMPLE, sampleVariables, secretVariableNames, slotVariables, wodPortName } from "../infra/catalog/variables";
import { ROOT } from "../infra/load";
import { stackConfig } from "./support/fixtures";

const config = stackConfig({
  branding: "HPE Developer",
  brand: { wod: "HPE Developer Workshops-on-Demand", logo: "![logo](Pictures/logo.png)", url: "https://developer.example.org", surveyUrl: "https://survey.example.org/wod" },
  variables: { LLM_URL: "http://10.0.0.5:8000/v1", LLM_KEY: { secure: "v1:abc" } },
});
const [eu, us] = config.locations; // eu has an fqdn, us has none
const catalog = loadCatalog(path.join(ROOT, "test/fixtures/wod-catalog"), config);
const byName = (name: string) => catalog.workshops.find((w) => w.name === name)!;
const containers = byName("Containers101"); // range 41-50, ports http 14151 / ssh 14101, produces CONTAINERTOK
const bash = byName("Bash101"); // range 1-6, no appliance
const sql = byName("SQL101"); // varpass

describe("what a slot's notebooks see", () => {
  it("WoD's variables with WoD's meanings: WORKSHOP is the folder, MODEWS the booking kind, WODBE* the hub", () => {
    const v = slotVariables({ workshop: bash, location: eu, slot: 3, config });
    expect(v).toMatchObject({
      STDID: "3", USERNAME: "student3", WORKSHOP: "WKSHP-Bash101", MODEWS: "WKSHP", DURATION: "2",
      WODBEFQDN: "eu.example.org", WODBEEXTFQDN: "eu.example.org", WODBEPORT: "8000", WODBEURL: "http://eu.example.org:8000",
      BRANDING: "HPE Developer", BRANDINGWOD: "HPE Developer Workshops-on-Demand", BRANDINGLOGO: "![logo](Pictures/logo.png)",
      BRANDINGURL: "https://developer.example.org", SURVEYURL: "https://survey.example.org/wod", SURVEYCHALURL: "",
      inventory_hostname: "eu",
    });
    expect(slotVariables({ workshop: bash, location: eu, slot: 3, config, mode: "CHLG" }).MODEWS).toBe("CHLG");
  });

  it("branding has defaults: BRANDINGWOD is wod:branding unless wod:brand.wod says otherwise", () => {
    const v = slotVariables({ workshop: bash, location: eu, slot: 1, config: stackConfig() });
    expect(v).toMatchObject({ BRANDING: "Workshops-on-Demand", BRANDINGWOD: "Workshops-on-Demand", BRANDINGLOGO: "", SURVEYURL: "" });
    expect(v.BRANDINGURL).toMatch(/^https:\/\//);
  });

  it("HTTPPORT is the student's own appliance port (base + STDID - range.min), as in WoD; the base is reachable through hostvars", () => {
    const v = slotVariables({ workshop: containers, location: eu, slot: 44, config, applianceAddress: "203.0.113.9" });
    expect(v).toMatchObject({
      HTTPPORT: "14154", PORT_HTTP: "14154", "HTTPPORT-WKSHP-Containers101": "14151",
      SSHPORT: "14104", PORT_SSH: "14104", "SSHPORT-WKSHP-Containers101": "14101",
      "IP-WKSHP-Containers101": "203.0.113.9",
    });
  });

  it("WoD port names: http → HTTPPORT; a name already ending in port or portN keeps it", () => {
    expect(["http", "ssh", "spark", "sparkport2", "tensorflowport1"].map(wodPortName)).toEqual(["HTTPPORT", "SSHPORT", "SPARKPORT", "SPARKPORT2", "TENSORFLOWPORT1"]);
  });

  it("a location without fqdn gives the hub's address once known, and nothing (never empty text) before", () => {
    expect(slotVariables({ workshop: bash, location: us, slot: 1, config, hubAddress: "198.51.100.7" })).toMatchObject({
      WODBEFQDN: "198.51.100.7", WODBEEXTFQDN: "198.51.100.7", WODBEURL: "http://198.51.100.7:8000",
    });
    const unknown = slotVariables({ workshop: bash, location: us, slot: 1, config });
    for (const name of ["WODBEFQDN", "WODBEEXTFQDN", "WODBEURL"]) expect(unknown).not.toHaveProperty(name);
  });

  it("values the appliance produced reach the notebooks only when the wod.yml declares them, and never replace the platform's", () => {
    const v = slotVariables({ workshop: containers, location: eu, slot: 41, config, produced: { CONTAINERTOK: "t0k", OTHER: "x", STDID: "999" } });
    expect(v.CONTAINERTOK).toBe("t0k");
    expect(v).not.toHaveProperty("OTHER");
    expect(v.STDID).toBe("41");
  });

  it("secrets never appear in a slot's variables: PASSSTU and every wod:variables key come on stdin", () => {
    const v = slotVariables({ workshop: sql, location: eu, slot: 21, config });
    for (const name of ["PASSSTU", "LLM_URL", "LLM_KEY"]) expect(v).not.toHaveProperty(name);
    expect(secretVariableNames(sql, config)).toEqual(["PASSSTU", "LLM_KEY", "LLM_URL"]);
  });

  it("PASSSTU reaches a workshop's notebooks only when varpass or ldap is set, as in WoD", () => {
    expect(secretVariableNames(bash, config)).toEqual(["LLM_KEY", "LLM_URL"]);
    expect(secretVariableNames({ ...bash, ldap: true } as Workshop, config)).toContain("PASSSTU");
    expect(secretVariableNames({ ...bash, varpass: true } as Workshop, config)).toContain("PASSSTU");
  });
});

describe("the plan's sample context", () => {
  it("first slot of the range, placeholders for secrets, appliance address and produced values; plain stack variables as set", () => {
    const v = sampleVariables(containers, us, config);
    expect(v).toMatchObject({
      STDID: "41", HTTPPORT: "14151", "IP-WKSHP-Containers101": SAMPLE.applianceAddress, CONTAINERTOK: "sample-CONTAINERTOK",
      WODBEFQDN: SAMPLE.hubAddress, LLM_URL: "http://10.0.0.5:8000/v1", LLM_KEY: "sample-LLM_KEY",
    });
    expect(v).not.toHaveProperty("PASSSTU");
    expect(sampleVariables(sql, eu, config)).toMatchObject({ PASSSTU: SAMPLE.password, WODBEFQDN: "eu.example.org" });
  });

  it("every sample value stays JSON-safe, so a notebook that is valid after rendering is judged on its own text", () => {
    for (const w of catalog.workshops) {
      for (const value of Object.values(sampleVariables(w, us, config))) expect(JSON.parse(JSON.stringify(value))).toBe(value);
      for (const value of Object.values(sampleVariables(w, us, config))) expect(value).not.toMatch(/["\\\n]/);
    }
  });
});

describe("properties", () => {
  it("every slot of the range gets its own port per port name, base + (slot - min), inside the port range", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 500 }), fc.integer({ min: 1, max: 60 }), fc.integer({ min: 1024, max: 60000 }), (min, size, base) => {
        const w = { ...containers, range: { min, max: min + size - 1 }, appliance: { ...containers.appliance!, ports: { http: base } } } as Workshop;
        const ports = new Set<string>();
        for (let slot = min; slot <= min + size - 1; slot++) {
          const v = slotVariables({ workshop: w, location: eu, slot, config });
          expect(Number(v.HTTPPORT)).toBe(base + slot - min);
          expect(v.PORT_HTTP).toBe(v.HTTPPORT);
          expect(v["HTTPPORT-WKSHP-Containers101"]).toBe(String(base));
          ports.add(v.HTTPPORT);
        }
        expect(ports.size).toBe(size);
      }),
    );
  });
});
