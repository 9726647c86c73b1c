// What each e-mail says: a default subject, plain-text and HTML body per kind, in the platform's
// words; a workshop may replace any of them with files in its folder's `wod-mail/` (never copied
// into learners' homes: components/host/render.js skips it). Every text is rendered by the
// sandboxed renderer notebooks use (components/host/render.js), so an override can do what a
// notebook can and nothing more; HTML bodies see every value HTML-escaped, and a subject is one line.
import * as fs from "node:fs";
import * as path from "node:path";
import { MESSAGE_KINDS, type MessageKind, type StackConfig } from "../config";
import type { CatalogIssue, Workshop } from "../catalog/schema";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const renderer = require("../../components/host/render.js") as typeof import("../../components/host/render.js");

/** The folder of a workshop holding its own mail texts (excluded from the content learners get). */
export const MAIL_DIR = "wod-mail";
export const PARTS = ["subject", "txt", "html"] as const;
export type Part = (typeof PARTS)[number];

/** Kinds about a workshop registration (a workshop may word them); the others are about a student server. */
export const REGISTRATION_KINDS: readonly MessageKind[] = [
  "registration-accepted", "credentials-ready", "activation-failed", "registration-cancelled", "registration-reset", "ending-soon", "workshop-ended",
];
export const isRegistrationKind = (k: MessageKind) => REGISTRATION_KINDS.includes(k);

const COMMON = ["NAME", "EMAIL", "BRANDING", "BRANDINGURL", "SURVEYURL"];
const WORKSHOP = ["WORKSHOP", "WORKSHOPNAME", "DESCRIPTION", "REGISTRATION", "LOCATION", "STDID", "STARTS", "ENDS", "DURATION", "BADGEIMG", "REPLAYLINK"];
const SERVER = ["ADDRESS", "SSHUSER", "REGION", "HOSTKEY"];

/** The variables each kind's texts see (the plan checks overrides against exactly these). */
export const VARIABLES: Record<MessageKind, string[]> = {
  "registration-accepted": [...COMMON, ...WORKSHOP],
  "credentials-ready": [...COMMON, ...WORKSHOP, "USERNAME", "HUBURL", "PASSWORD"],
  "activation-failed": [...COMMON, ...WORKSHOP],
  "registration-cancelled": [...COMMON, ...WORKSHOP],
  "registration-reset": [...COMMON, ...WORKSHOP, "USERNAME", "HUBURL"],
  "ending-soon": [...COMMON, ...WORKSHOP, "USERNAME", "HUBURL", "MINUTESLEFT"],
  "workshop-ended": [...COMMON, ...WORKSHOP, "COMPLETION"],
  "server-granted": [...COMMON, ...SERVER],
  "server-idle-warning": [...COMMON, ...SERVER, "REMOVAL", "IDLEDAYS"],
  "server-removed": [...COMMON, ...SERVER, "REASON", "SNAPSHOT"],
};

const SIGNATURE_TXT = `
-- 
{{ BRANDING }}{% if BRANDINGURL %} - {{ BRANDINGURL }}{% endif %}
`;
const SIGNATURE_HTML = `<p style="color:#666">{% if BRANDINGURL %}<a href="{{ BRANDINGURL }}">{{ BRANDING }}</a>{% else %}{{ BRANDING }}{% endif %}</p>`;
const html = (body: string) => `<!DOCTYPE html>
<html><body style="font-family:sans-serif;line-height:1.4">
<p>Hello {{ NAME }},</p>
${body.trim()}
${SIGNATURE_HTML}
</body></html>
`;
const txt = (body: string) => `Hello {{ NAME }},

${body.trim()}
${SIGNATURE_TXT}`;

/** The defaults, as templates: rendered the same way as a workshop's own texts. */
export const DEFAULTS: Record<MessageKind, Record<Part, string>> = {
  "registration-accepted": {
    subject: "{{ BRANDING }}: you are registered for {{ WORKSHOPNAME }}",
    txt: txt(`
you are registered for the workshop {{ WORKSHOPNAME }}, from {{ STARTS }} to {{ ENDS }} ({{ DURATION }} hours).

What happens next: in a few minutes we prepare your own workshop space and send you a second
e-mail with the address, your username and your password.
`),
    html: html(`
<p>you are registered for the workshop <b>{{ WORKSHOPNAME }}</b>, from {{ STARTS }} to {{ ENDS }} ({{ DURATION }} hours).</p>
<p>What happens next: in a few minutes we prepare your own workshop space and send you a second e-mail with the address, your username and your password.</p>
`),
  },
  "credentials-ready": {
    subject: "{{ BRANDING }}: your {{ WORKSHOPNAME }} workshop is ready",
    txt: txt(`
your workshop {{ WORKSHOPNAME }} is ready for you.

  Open:      {{ HUBURL }}
  Username:  {{ USERNAME }}
  Password:  {{ PASSWORD }}

It is yours until {{ ENDS }}. Start with the notebook 0-ReadMeFirst, which opens first.
{% if DESCRIPTION %}
{{ DESCRIPTION }}
{% endif %}`),
    html: html(`
<p>your workshop <b>{{ WORKSHOPNAME }}</b> is ready for you.</p>
<table>
<tr><td>Open</td><td><a href="{{ HUBURL }}">{{ HUBURL }}</a></td></tr>
<tr><td>Username</td><td><code>{{ USERNAME }}</code></td></tr>
<tr><td>Password</td><td><code>{{ PASSWORD }}</code></td></tr>
</table>
<p>It is yours until {{ ENDS }}. Start with the notebook 0-ReadMeFirst, which opens first.</p>
{% if DESCRIPTION %}<p>{{ DESCRIPTION }}</p>{% endif %}
`),
  },
  "activation-failed": {
    subject: "{{ BRANDING }}: we could not prepare your {{ WORKSHOPNAME }} workshop",
    txt: txt(`
we are sorry: we could not prepare your space for the workshop {{ WORKSHOPNAME }} in time.

Your seat has been freed, so nothing is held in your name. You are welcome to register again,
and the next attempt gets a fresh space.
`),
    html: html(`
<p>we are sorry: we could not prepare your space for the workshop <b>{{ WORKSHOPNAME }}</b> in time.</p>
<p>Your seat has been freed, so nothing is held in your name. You are welcome to register again, and the next attempt gets a fresh space.</p>
`),
  },
  "registration-cancelled": {
    subject: "{{ BRANDING }}: your {{ WORKSHOPNAME }} registration is cancelled",
    txt: txt(`
your registration for the workshop {{ WORKSHOPNAME }} has been cancelled by the organisers.
Your workshop space is closed and its seat freed. You are welcome to register again.
`),
    html: html(`
<p>your registration for the workshop <b>{{ WORKSHOPNAME }}</b> has been cancelled by the organisers.</p>
<p>Your workshop space is closed and its seat freed. You are welcome to register again.</p>
`),
  },
  "registration-reset": {
    subject: "{{ BRANDING }}: your {{ WORKSHOPNAME }} workspace is being reset",
    txt: txt(`
the organisers gave you a fresh start in the workshop {{ WORKSHOPNAME }}: your workshop space is
being prepared again, as new. Your username and password stay the same.

  Open:      {{ HUBURL }}
  Username:  {{ USERNAME }}

It is still yours until {{ ENDS }}.
`),
    html: html(`
<p>the organisers gave you a fresh start in the workshop <b>{{ WORKSHOPNAME }}</b>: your workshop space is being prepared again, as new. Your username and password stay the same.</p>
<p>Open <a href="{{ HUBURL }}">{{ HUBURL }}</a> as <code>{{ USERNAME }}</code>. It is still yours until {{ ENDS }}.</p>
`),
  },
  "ending-soon": {
    subject: "{{ BRANDING }}: {{ WORKSHOPNAME }} ends at {{ ENDS }}",
    txt: txt(`
your workshop {{ WORKSHOPNAME }} ends in about {{ MINUTESLEFT }} minutes, at {{ ENDS }}.
Then your workshop space is closed and its files are removed: save anything you want to keep now.

  Open:      {{ HUBURL }}
  Username:  {{ USERNAME }}
`),
    html: html(`
<p>your workshop <b>{{ WORKSHOPNAME }}</b> ends in about {{ MINUTESLEFT }} minutes, at {{ ENDS }}.</p>
<p>Then your workshop space is closed and its files are removed: save anything you want to keep now.</p>
<p>Open <a href="{{ HUBURL }}">{{ HUBURL }}</a> as <code>{{ USERNAME }}</code>.</p>
`),
  },
  "workshop-ended": {
    subject: "{{ BRANDING }}: thank you for taking {{ WORKSHOPNAME }}",
    txt: txt(`
thank you for taking the workshop {{ WORKSHOPNAME }}. Your workshop space is now closed.
{% if COMPLETION %}
You ran {{ COMPLETION }}% of its exercises.
{% endif %}{% if BADGEIMG %}
Your badge: {{ BADGEIMG }}
{% endif %}{% if REPLAYLINK %}
Watch the replay: {{ REPLAYLINK }}
{% endif %}{% if SURVEYURL %}
Tell us how it went: {{ SURVEYURL }}
{% endif %}`),
    html: html(`
<p>thank you for taking the workshop <b>{{ WORKSHOPNAME }}</b>. Your workshop space is now closed.</p>
{% if COMPLETION %}<p>You ran {{ COMPLETION }}% of its exercises.</p>{% endif %}
{% if BADGEIMG %}<p><img src="{{ BADGEIMG }}" alt="Your {{ WORKSHOPNAME }} badge" style="max-width:200px"></p>{% endif %}
{% if REPLAYLINK %}<p><a href="{{ REPLAYLINK }}">Watch the replay</a></p>{% endif %}
{% if SURVEYURL %}<p><a href="{{ SURVEYURL }}">Tell us how it went</a></p>{% endif %}
`),
  },
  "server-granted": {
    subject: "{{ BRANDING }}: your student server is ready",
    txt: txt(`
you earned your own student server, and it is ready.

  Address:   {{ ADDRESS }}
  Log in:    ssh {{ SSHUSER }}@{{ ADDRESS }}   (with the SSH key you gave us)
  Region:    {{ REGION }}
{% if HOSTKEY %}  Host key:  {{ HOSTKEY }} (check it the first time you connect)
{% endif %}
Log in now and then: a server nobody logs in to is removed after a while (we warn you first).
`),
    html: html(`
<p>you earned your own student server, and it is ready.</p>
<table>
<tr><td>Address</td><td><code>{{ ADDRESS }}</code></td></tr>
<tr><td>Log in</td><td><code>ssh {{ SSHUSER }}@{{ ADDRESS }}</code> (with the SSH key you gave us)</td></tr>
<tr><td>Region</td><td>{{ REGION }}</td></tr>
{% if HOSTKEY %}<tr><td>Host key</td><td><code>{{ HOSTKEY }}</code> (check it the first time you connect)</td></tr>{% endif %}
</table>
<p>Log in now and then: a server nobody logs in to is removed after a while (we warn you first).</p>
`),
  },
  "server-idle-warning": {
    subject: "{{ BRANDING }}: your student server will be removed on {{ REMOVAL }}",
    txt: txt(`
nobody has logged in to your student server {{ ADDRESS }} for {{ IDLEDAYS }} days, so it will be
removed on {{ REMOVAL }}.

To keep it, log in before then (ssh {{ SSHUSER }}@{{ ADDRESS }}), or ask the organisers to extend it
(server-extend).
`),
    html: html(`
<p>nobody has logged in to your student server <code>{{ ADDRESS }}</code> for {{ IDLEDAYS }} days, so it will be removed on {{ REMOVAL }}.</p>
<p>To keep it, log in before then (<code>ssh {{ SSHUSER }}@{{ ADDRESS }}</code>), or ask the organisers to extend it (server-extend).</p>
`),
  },
  "server-removed": {
    subject: "{{ BRANDING }}: your student server was removed",
    txt: txt(`
your student server {{ ADDRESS }} has been removed ({{ REASON }}).
{% if SNAPSHOT %}
A snapshot of it was kept ({{ SNAPSHOT }}): ask the organisers if you need something from it.
{% endif %}`),
    html: html(`
<p>your student server <code>{{ ADDRESS }}</code> has been removed ({{ REASON }}).</p>
{% if SNAPSHOT %}<p>A snapshot of it was kept (<code>{{ SNAPSHOT }}</code>): ask the organisers if you need something from it.</p>{% endif %}
`),
  },
};

/** A workshop's own texts: kind → part → template text. */
export type MailTexts = Partial<Record<MessageKind, Partial<Record<Part, string>>>>;

const MAX_TEXT = 64 * 1024;
const FILE = new RegExp(`^(${MESSAGE_KINDS.join("|")})\\.(subject|txt|html)$`);

/** Reads `<workshop>/wod-mail/`; each problem (unknown file, not a workshop kind, too big, a link) is reported. */
export function readMailTexts(dir: string, report: (file: string, message: string) => void = () => {}): MailTexts {
  const folder = path.join(dir, MAIL_DIR);
  const texts: MailTexts = {};
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(folder, { withFileTypes: true });
  } catch {
    return texts;
  }
  for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    const m = FILE.exec(e.name);
    const file = path.join(MAIL_DIR, e.name);
    if (!e.isFile()) {
      report(file, "not a regular file (mail texts are plain files: <kind>.subject, <kind>.txt, <kind>.html)");
      continue;
    }
    if (!m) {
      report(file, `not a mail text: name it <kind>.subject, <kind>.txt or <kind>.html, with a kind from ${REGISTRATION_KINDS.join(", ")}`);
      continue;
    }
    const kind = m[1] as MessageKind;
    if (!isRegistrationKind(kind)) {
      report(file, `${kind} is about a student server, not a workshop: a workshop words only ${REGISTRATION_KINDS.join(", ")}`);
      continue;
    }
    const size = fs.statSync(path.join(folder, e.name)).size;
    if (size > MAX_TEXT) {
      report(file, `larger than ${MAX_TEXT / 1024} KiB`);
      continue;
    }
    (texts[kind] ??= {})[m[2] as Part] = fs.readFileSync(path.join(folder, e.name), "utf8");
  }
  return texts;
}

export interface Rendered {
  subject: string;
  text: string;
  html?: string;
}

/** Every string in a value HTML-escaped (numbers and booleans are inert as they are). */
export function escapeValues(vars: Record<string, unknown>): Record<string, unknown> {
  const esc = (v: unknown): unknown =>
    typeof v === "string" ? v.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`) : Array.isArray(v) ? v.map(esc) : v;
  return Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, esc(v)]));
}

/** A header value: one line (controls and line breaks become spaces), bounded. */
export function oneLine(value: string, max = 200): string {
  const line = value.replace(/[\x00-\x1f\x7f\u2028\u2029\u0085]+/g, " ").replace(/\s+/g, " ").trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/**
 * Renders one message. A workshop's text replaces the default part by part; a workshop that words
 * the plain text but not the HTML sends plain text only (its words, not the default's).
 */
export function renderMessage(kind: MessageKind, vars: Record<string, unknown>, own: MailTexts = {}, where = "default"): Rendered {
  const mine = own[kind] ?? {};
  const part = (p: Part, values: Record<string, unknown>) => {
    const template = mine[p] ?? DEFAULTS[kind][p];
    return renderer.renderTemplate(template, values, { file: mine[p] !== undefined ? `${where}/${MAIL_DIR}/${kind}.${p}` : `default ${kind}.${p}`, notebook: false });
  };
  const subject = oneLine(part("subject", vars));
  const text = part("txt", vars);
  const htmlWanted = mine.html !== undefined || mine.txt === undefined;
  return { subject, text, html: htmlWanted ? part("html", escapeValues(vars)) : undefined };
}

/** Sample values for checking texts: every variable of the kind, with a value of the right shape. */
export function sampleMailVariables(kind: MessageKind, w?: Workshop, config?: StackConfig): Record<string, string> {
  const sample: Record<string, string> = {
    NAME: "Ada Lovelace", EMAIL: "ada@example.org", BRANDING: config?.branding ?? "Workshops-on-Demand",
    BRANDINGURL: config?.brand.url ?? "", SURVEYURL: config?.brand.surveyUrl ?? "",
    WORKSHOP: w?.folder ?? "WKSHP-Sample", WORKSHOPNAME: w?.title ?? "Sample", DESCRIPTION: w?.description ?? "", REGISTRATION: "17",
    LOCATION: config?.locations[0]?.name ?? "eu", STDID: String(w?.range.min ?? 1), STARTS: "2026-12-01 09:00 UTC", ENDS: "2026-12-01 13:00 UTC",
    DURATION: String(w?.duration ?? 4), BADGEIMG: w?.badgeImg ?? "", REPLAYLINK: w?.replayLink ?? "",
    USERNAME: `student${w?.range.min ?? 1}`, HUBURL: "http://eu.example.org:8000", PASSWORD: "Sample-Pa55", MINUTESLEFT: "60", COMPLETION: "75",
    ADDRESS: "192.0.2.7", SSHUSER: "root", REGION: "fra1", HOSTKEY: "", REMOVAL: "2026-12-04 09:00 UTC", IDLEDAYS: "14", REASON: "idle", SNAPSHOT: "snap-1",
  };
  return Object.fromEntries(VARIABLES[kind].map((v) => [v, sample[v]]));
}

/**
 * The plan's check of every workshop's mail texts, like notebooks: each text rendered with its
 * kind's variables; an undefined variable or a broken tag is an error naming the file and line.
 */
export function checkMailTexts(workshops: Workshop[], config: StackConfig): CatalogIssue[] {
  const issues: CatalogIssue[] = [];
  for (const w of workshops) {
    const at = (file: string) => path.join(path.basename(path.dirname(w.dir)), w.folder, file);
    const texts = readMailTexts(w.dir, (file, message) => issues.push({ file: at(file), message, severity: "error", workshop: w.folder }));
    for (const [kind, parts] of Object.entries(texts) as [MessageKind, Partial<Record<Part, string>>][]) {
      for (const [p, template] of Object.entries(parts) as [Part, string][]) {
        const vars = sampleMailVariables(kind, w, config);
        try {
          renderer.renderTemplate(template, p === "html" ? escapeValues(vars) : vars, { file: `${kind}.${p}`, notebook: false });
        } catch (e) {
          const err = e as { line?: number; reason?: string; message: string };
          const undefinedName = /^'([A-Za-z_][\w-]*)' is undefined/.exec(err.reason ?? "")?.[1];
          const hint = undefinedName ? `: a ${kind} text may use ${VARIABLES[kind].join(", ")}` : "";
          issues.push({ file: at(path.join(MAIL_DIR, `${kind}.${p}`)), field: err.line ? `line ${err.line}` : undefined, message: `${err.reason ?? err.message}${hint}`, severity: "error", workshop: w.folder });
        }
      }
    }
  }
  return issues;
}
