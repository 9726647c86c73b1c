// Schema problems in plain words: the value found, the rule, and how to write it instead.
// zod's own texts ("Invalid input: expected string, received undefined") never reach a user.
import type { z } from "zod";

/** Rules by key path; `*` stands for any list index or map key (`locations.*.hubPort`, `appliance.ports.*`). */
export type Rules = Record<string, string>;

/** One line per zod issue: `<path>: got <value>; <rule>` or `<path>: missing; <rule>`. */
export function plainIssues(issues: readonly z.core.$ZodIssue[], root: unknown, rules: Rules): { path: string; message: string }[] {
  const out: { path: string; message: string }[] = [];
  const seen = new Set<string>();
  for (const issue of issues) {
    const segments = issue.path.map(String);
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) {
        const at = [...segments, key].join(".");
        const known = knownKeys(rules, segments);
        out.push({ path: at, message: `unknown key${known.length ? `; known keys here: ${known.join(", ")}` : ""} (check the spelling, or remove it)` });
      }
      continue;
    }
    const at = segments.join(".");
    if (seen.has(at)) continue; // one message per key: a union reports each branch
    seen.add(at);
    const value = valueAt(root, issue.path);
    if (issue.code === "custom") {
      out.push({ path: at, message: `got ${show(value)}; ${issue.message}` });
      continue;
    }
    const rule = ruleFor(rules, segments) ?? "has the wrong form";
    out.push({ path: at, message: value === undefined ? `missing; ${rule}` : `got ${show(value)}; ${rule}` });
  }
  return out;
}

/** The rule for a path: exact, then with list indices and map keys as `*`, then the nearest parent's. */
export function ruleFor(rules: Rules, segments: string[]): string | undefined {
  for (let n = segments.length; n > 0; n--) {
    const head = segments.slice(0, n);
    const candidates = [head.join("."), head.map((s) => (/^\d+$/.test(s) ? "*" : s)).join("."), [...head.slice(0, -1).map((s) => (/^\d+$/.test(s) ? "*" : s)), "*"].join(".")];
    for (const c of candidates) if (rules[c]) return rules[c];
  }
  return undefined;
}

function knownKeys(rules: Rules, parent: string[]): string[] {
  const prefix = parent.map((s) => (/^\d+$/.test(s) ? "*" : s)).join(".");
  const depth = parent.length;
  return Object.keys(rules)
    .map((k) => k.split("."))
    .filter((k) => k.length === depth + 1 && k.slice(0, depth).join(".") === prefix && k[depth] !== "*")
    .map((k) => k[depth]);
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let v = root;
  for (const key of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<PropertyKey, unknown>)[key];
  }
  return v;
}

/** A value as the user wrote it, shortened. */
export function show(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null (an empty value)";
  let text: string;
  try {
    text = typeof value === "string" ? JSON.stringify(value) : JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
