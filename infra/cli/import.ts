// `wod import FILE.csv`: registers a cohort from CSV (columns email,workshop[,name,location,startsAt],
// with or without a header line). Each line is registered on its own: one bad line is reported
// with its line number and reason and never blocks the others; a line whose participant already
// holds a live seat of that workshop is "already registered", so running an import twice is safe.
import { type Db, register } from "../db/registrations";
import { describeError } from "./exit";

export const COLUMNS = ["email", "workshop", "name", "location", "startsAt"] as const;
type Column = (typeof COLUMNS)[number];

/** The file cannot be imported at all (no line was registered). */
export class ImportFileError extends Error {}

export interface ImportLine {
  line: number;
  outcome: "registered" | "already-registered" | "rejected";
  email?: string;
  workshop?: string;
  /** For registered lines. */
  registration?: { id: string; location: string; slot: number; endsAt: string };
  /** Why it was rejected, or the seat already held. */
  reason?: string;
}

export interface ImportReport {
  lines: ImportLine[];
  registered: number;
  alreadyRegistered: number;
  rejected: number;
}

/** One CSV line (RFC 4180 quoting, on one line) → its fields, or why it cannot be read. */
export function splitCsvLine(text: string): string[] | { error: string } {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    let field = "";
    if (text[i] === '"') {
      i++;
      for (;;) {
        const q = text.indexOf('"', i);
        if (q < 0) return { error: "a quoted field is not closed on this line" };
        field += text.slice(i, q);
        if (text[q + 1] === '"') {
          field += '"';
          i = q + 2;
          continue;
        }
        i = q + 1;
        break;
      }
      if (i < text.length && text[i] !== ",") return { error: "text after a closing quote" };
    } else {
      const comma = text.indexOf(",", i);
      field = text.slice(i, comma < 0 ? text.length : comma);
      if (field.includes('"')) return { error: "a quote inside an unquoted field" };
      i = comma < 0 ? text.length : comma;
    }
    fields.push(field.trim());
    if (i >= text.length) return fields;
    i++; // the comma
  }
}

/** Reads the file's lines into rows by column, with a header line or in the order email,workshop,name,location,startsAt. */
export function readCsv(text: string): { line: number; row?: Partial<Record<Column, string>>; error?: string }[] {
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/).map((t, i) => ({ line: i + 1, text: t })).filter((l) => l.text.trim() !== "");
  if (!lines.length) throw new ImportFileError("the file has no lines");
  let columns: Column[] = [...COLUMNS];
  const first = splitCsvLine(lines[0].text);
  if (Array.isArray(first) && first[0]?.toLowerCase() === "email") {
    columns = first.map((name) => {
      const column = COLUMNS.find((c) => c.toLowerCase() === name.toLowerCase().replace(/[_ -]/g, ""));
      if (!column) throw new ImportFileError(`line ${lines[0].line}: unknown column '${name}' (columns: ${COLUMNS.join(", ")})`);
      return column;
    });
    if (!columns.includes("workshop")) throw new ImportFileError(`line ${lines[0].line}: the header has no workshop column`);
    if (new Set(columns).size !== columns.length) throw new ImportFileError(`line ${lines[0].line}: a column is named twice`);
    lines.shift();
  }
  return lines.map(({ line, text: t }) => {
    const fields = splitCsvLine(t);
    if (!Array.isArray(fields)) return { line, error: fields.error };
    if (fields.length > columns.length) return { line, error: `${fields.length} fields, at most ${columns.length} expected (${columns.join(",")})` };
    return { line, row: Object.fromEntries(columns.map((c, i) => [c, fields[i] ?? ""])) };
  });
}

export async function importRegistrations(pool: Db, text: string): Promise<ImportReport> {
  const report: ImportReport = { lines: [], registered: 0, alreadyRegistered: 0, rejected: 0 };
  const add = (l: ImportLine) => {
    report.lines.push(l);
    if (l.outcome === "registered") report.registered++;
    else if (l.outcome === "already-registered") report.alreadyRegistered++;
    else report.rejected++;
  };
  for (const { line, row, error } of readCsv(text)) {
    if (!row) {
      add({ line, outcome: "rejected", reason: error });
      continue;
    }
    const { email = "", workshop = "", name, location, startsAt } = row;
    const reject = (reason: string) => add({ line, outcome: "rejected", email: email || undefined, workshop: workshop || undefined, reason });
    if (!email) { reject("email is missing"); continue; }
    if (!workshop) { reject("workshop is missing"); continue; }
    let start: Date | undefined;
    if (startsAt) {
      start = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(startsAt) ? new Date(startsAt) : undefined;
      if (!start || Number.isNaN(start.getTime())) { reject(`startsAt '${startsAt}' is not a date (ISO 8601, e.g. 2026-12-01T09:00:00Z)`); continue; }
    }
    try {
      const r = await register(pool, { email, workshop, name: name || undefined, location: location || undefined, startsAt: start });
      if (r.ok) {
        add({ line, outcome: "registered", email, workshop, registration: { id: r.id, location: r.location, slot: r.slot, endsAt: r.endsAt.toISOString() } });
      } else if (r.refusal === "already-registered") {
        add({ line, outcome: "already-registered", email, workshop, reason: r.message });
      } else {
        reject(`refused (${r.refusal}): ${r.message}`);
      }
    } catch (e) {
      reject(describeError(e));
    }
  }
  return report;
}

export function renderImport(r: ImportReport): string {
  const out = r.lines.map((l) =>
    l.outcome === "registered"
      ? `line ${l.line}: registered ${l.email} in ${l.workshop}: registration ${l.registration!.id}, slot ${l.registration!.slot} on ${l.registration!.location}, until ${l.registration!.endsAt}`
      : l.outcome === "already-registered"
        ? `line ${l.line}: already registered: ${l.reason}`
        : `line ${l.line}: rejected: ${l.reason}`,
  );
  out.push(`import: ${r.registered} registered, ${r.alreadyRegistered} already registered, ${r.rejected} rejected`);
  return out.join("\n");
}
