// One pass of `wod notify`: claim what is due, word each message, send it, record how it went —
// until nothing is due. A message is sent once: claimed under a lease, recorded right after its
// send; a worker that dies between the two leaves the lease to expire, and the next worker sends
// it again with the same Message-ID (at most one repeat, never a loss).
import * as os from "node:os";
import * as path from "node:path";
import { randomBytes } from "node:crypto";
import type { Pool } from "pg";
import type { MessageKind, StackConfig } from "../config";
import { EMAIL } from "../db/registrations";
import { learnerPassword, passwordSeedId } from "../../components/passwords";
import { backoffMs, claimDue, type OutboxMessage, type Outcome, peekDue, record } from "./outbox";
import { addressOf, type Mail, type Mailer, SendFailed } from "./smtp";
import { isRegistrationKind, type MailTexts, oneLine, readMailTexts, type Rendered, renderMessage } from "./texts";

export interface PassOptions {
  pool: Pool;
  config: StackConfig;
  /** The catalog folder (texts are read from <dir>/<folder>/wod-mail). */
  workshopsDir: string;
  /** Undefined without wod:smtp: nothing is sent, messages wait. */
  mailer?: Mailer;
  /** The stack's password seed, for the credentials mail (undefined: those mails wait). */
  passwordSeed?: string;
  /** What is due is decided at this time (`--now`); leases use the database's clock. */
  now?: Date;
  /** Print what would be sent, send and change nothing. */
  dryRun?: boolean;
  /** This worker's name in its leases. */
  worker?: string;
  log?: (m: string) => void;
  /** Dry runs: where each message's rendering goes. */
  print?: (m: string) => void;
}

export interface PassSummary {
  sent: number;
  /** Failed this pass, retried later. */
  failed: number;
  givenUp: number;
  undeliverable: number;
  skipped: number;
  /** Due but not sent: no SMTP server configured, no password seed, or the server was down. */
  waiting: number;
  /** The SMTP server could not be used: the pass stopped (messages wait, no try counted). */
  serverDown?: string;
  /** wod:smtp is not set. */
  noSmtp?: boolean;
  /** Dry run: what would be sent. */
  wouldSend?: number;
}

export const workerName = () => `${os.hostname()}:${process.pid}:${randomBytes(3).toString("hex")}`;

const BATCH = 100;

export async function notifyPass(o: PassOptions): Promise<PassSummary> {
  const log = o.log ?? (() => {});
  const now = o.now ?? new Date();
  const n = o.config.notifications;
  const s: PassSummary = { sent: 0, failed: 0, givenUp: 0, undeliverable: 0, skipped: 0, waiting: 0 };
  const texts = new Map<string, MailTexts>();
  const textsOf = (folder: string) => {
    if (!texts.has(folder)) texts.set(folder, readMailTexts(path.join(o.workshopsDir, folder)));
    return texts.get(folder)!;
  };
  const seedId = o.passwordSeed ? passwordSeedId(o.passwordSeed) : undefined;
  const word = (m: OutboxMessage) => wordMessage(m, { config: o.config, now, textsOf, passwordSeed: o.passwordSeed, seedId, log });

  if (o.dryRun) {
    const due = await peekDue(o.pool, { now, endingSoonMinutes: n.endingSoonMinutes, limit: 100_000 });
    s.wouldSend = 0;
    for (const m of due) {
      const w = word(m);
      if ("outcome" in w) {
        (o.print ?? console.log)(`message ${m.id} ${m.kind} to ${m.recipient}: would be ${w.outcome.state}${"reason" in w.outcome && w.outcome.reason ? `: ${w.outcome.reason}` : ""}`);
        continue;
      }
      s.wouldSend++;
      (o.print ?? console.log)(`message ${m.id} ${m.kind} to ${w.mail.to.address}: ${w.mail.subject}\n${indent(w.mail.text)}`);
    }
    return s;
  }
  if (!o.mailer) {
    s.noSmtp = true;
    return s;
  }

  const worker = o.worker ?? workerName();
  const domain = addressOf(o.config.smtp!.from).split("@")[1] ?? "wod.invalid";
  const started = Date.now();
  let lastProgress = started;
  for (;;) {
    const batch = await claimDue(o.pool, { now, endingSoonMinutes: n.endingSoonMinutes, limit: BATCH, worker, leaseSeconds: n.leaseSeconds, messageIdDomain: domain });
    if (batch.length === 0) break;
    // One learner's messages go in order (the welcome before the credentials); learners in parallel.
    const byRecipient = new Map<string, OutboxMessage[]>();
    for (const m of batch) byRecipient.set(m.recipient, [...(byRecipient.get(m.recipient) ?? []), m]);
    const queues = [...byRecipient.values()];
    let next = 0;
    const one = async () => {
      for (let q = next++; q < queues.length; q = next++) {
        for (const m of queues[q]) {
          if (s.serverDown) {
            await recordSafely(o.pool, m.id, { state: "waiting", reason: s.serverDown }, now, log);
            s.waiting++;
            continue;
          }
          const w = word(m);
          const sent = "outcome" in w ? { outcome: w.outcome } : await send(o.mailer!, w.mail, m, now, n.maxAttempts);
          if (sent.serverDown) s.serverDown = sent.serverDown;
          await recordSafely(o.pool, m.id, sent.outcome, now, log);
          count(s, sent.outcome, m.attempts + 1 >= n.maxAttempts);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(n.concurrency, queues.length) }, one));
    if (Date.now() - lastProgress > 5000) {
      lastProgress = Date.now();
      log(`notify: ${s.sent} sent so far (${Math.round(s.sent / ((Date.now() - started) / 1000))}/s)`);
    }
    if (s.serverDown) break;
  }
  return s;
}

function count(s: PassSummary, outcome: Outcome, lastTry: boolean) {
  if (outcome.state === "sent") s.sent++;
  else if (outcome.state === "failed") lastTry ? s.givenUp++ : s.failed++;
  else if (outcome.state === "undeliverable") s.undeliverable++;
  else if (outcome.state === "skipped") s.skipped++;
  else s.waiting++;
}

async function send(mailer: Mailer, mail: Mail, m: OutboxMessage, now: Date, maxAttempts: number): Promise<{ outcome: Outcome; serverDown?: string }> {
  const retry = (reason: string): Outcome => ({ state: "failed", reason, retryAt: new Date(now.getTime() + backoffMs(m.attempts + 1)), maxAttempts });
  try {
    await mailer.send(mail);
    return { outcome: { state: "sent" } };
  } catch (e) {
    if (!(e instanceof SendFailed)) return { outcome: retry(`sending failed: ${(e as Error).message}`) };
    const err = e.error;
    if (err.kind === "rejected") return { outcome: { state: "undeliverable", reason: err.reason } };
    // Not this message's fault: no try is counted, and nobody else is tried until the server is back.
    if (err.kind === "server-down") return { outcome: { state: "waiting", reason: err.reason }, serverDown: err.reason };
    return { outcome: retry(err.reason) };
  }
}

/**
 * A send is recorded right after it happens. When the database is briefly gone (a failover, a
 * killed connection), the record is tried again on a new connection; if it never lands, the lease
 * expires and the message is sent once more: a repeat, never a loss.
 */
async function recordSafely(pool: Pool, id: string, outcome: Outcome, now: Date, log: (m: string) => void): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await record(pool, id, outcome, now);
      return;
    } catch (e) {
      if (attempt >= 4) throw new Error(`message ${id}: cannot record that it was ${outcome.state} (${(e as Error).message}); its claim expires and another pass tries it again`);
      log(`notify: recording message ${id} failed (${(e as Error).message}); trying again`);
      await new Promise((r) => setTimeout(r, 250 * attempt));
    }
  }
}

interface WordContext {
  config: StackConfig;
  now: Date;
  textsOf: (folder: string) => MailTexts;
  passwordSeed?: string;
  seedId?: string;
  log: (m: string) => void;
}

/** The mail for one message, or why it is not sent (now, or ever). */
export function wordMessage(m: OutboxMessage, c: WordContext): { mail: Mail } | { outcome: Outcome } {
  const n = c.config.notifications;
  if (n.off.includes(m.kind)) return { outcome: { state: "skipped", reason: `${m.kind} is switched off (wod:notifications.off)` } };
  const address = m.recipient.trim().toLowerCase();
  if (address.length > 254 || !EMAIL.test(address)) return { outcome: { state: "undeliverable", reason: `'${oneLine(m.recipient, 80)}' is not a deliverable e-mail address` } };

  const f = m.facts as Record<string, any>;
  const reg = m.registration;
  if (m.kind === "ending-soon") {
    const ends = new Date(f.endsAt);
    if (c.now >= ends) return { outcome: { state: "skipped", reason: "the workshop had ended before the reminder was sent" } };
    if (ends.getTime() - n.endingSoonMinutes * 60_000 <= new Date(f.startsAt).getTime()) {
      return { outcome: { state: "skipped", reason: `the workshop is no longer than the reminder's lead time (wod:notifications.endingSoonMinutes: ${n.endingSoonMinutes})` } };
    }
  }
  if ((m.kind === "credentials-ready" || m.kind === "ending-soon") && reg && reg.status !== "active" && reg.status !== "pending") {
    return { outcome: { state: "skipped", reason: `the registration is ${reg.status}` } };
  }

  const vars = variablesFor(m, c);
  if (m.kind === "credentials-ready") {
    if (!c.passwordSeed) return { outcome: { state: "waiting", reason: "no password seed: set WOD_PASSWORD_SEED (pulumi stack output --show-secrets passwordSeed) or let wod notify read it with the Pulumi CLI", retryAt: new Date(c.now.getTime() + 5 * 60_000) } };
    if (f.passwordSeedId !== c.seedId) {
      return { outcome: { state: "waiting", reason: `the password seed given to wod notify (id ${c.seedId}) is not the one this learner's password came from (id ${f.passwordSeedId ?? "not recorded yet: the next reconcile records it"})`, retryAt: new Date(c.now.getTime() + 5 * 60_000) } };
    }
    vars.PASSWORD = learnerPassword(c.passwordSeed, m.registrationId!);
  }

  const folder = m.workshop?.folder;
  const own = folder && isRegistrationKind(m.kind) ? c.textsOf(folder) : {};
  let r: Rendered;
  try {
    r = renderMessage(m.kind, vars, own, folder);
  } catch (e) {
    // The plan reports a broken text; until it is fixed the learner still gets the default.
    c.log(`notify: message ${m.id}: ${(e as Error).message}; sending the default ${m.kind} text`);
    r = renderMessage(m.kind, vars);
  }
  const smtp = c.config.smtp;
  return {
    mail: {
      from: smtp?.from ?? "wod@wod.invalid", replyTo: smtp?.replyTo, to: { name: vars.NAME === address ? "" : String(vars.NAME), address },
      subject: r.subject, text: r.text, html: r.html, messageId: m.messageId ?? `<wod.${m.id}@wod.invalid>`,
      headers: { "Auto-Submitted": "auto-generated", "X-Wod-Message": `${m.kind} ${m.id}` },
    },
  };
}

const REASONS: Record<string, string> = {
  "revoke-lesson": "you passed the lesson that completes the course",
  idle: "nobody logged in to it for too long",
  admin: "the organisers removed it",
  ineligible: "it no longer qualifies",
};

function variablesFor(m: OutboxMessage, c: WordContext): Record<string, unknown> {
  const f = m.facts as Record<string, any>;
  const b = c.config.brand;
  const when = (t: unknown) => (t ? formatTime(new Date(String(t)), c.config.notifications.timeZone) : "");
  const name = oneLine(m.recipientName, 64) || m.recipient.split("@")[0];
  const vars: Record<string, unknown> = {
    NAME: name, EMAIL: m.recipient, BRANDING: c.config.branding, BRANDINGURL: b.url, SURVEYURL: b.surveyUrl,
  };
  if (isRegistrationKind(m.kind as MessageKind)) {
    const w = (m.workshop?.catalog ?? {}) as Record<string, any>;
    const completion = m.registration?.completion ?? f.completion;
    Object.assign(vars, {
      WORKSHOP: m.workshop?.folder ?? `WKSHP-${f.workshop}`, WORKSHOPNAME: String(w.title ?? f.workshop ?? ""), DESCRIPTION: String(w.description ?? ""),
      REGISTRATION: m.registrationId ?? "", LOCATION: String(f.location ?? ""), STDID: String(f.slot ?? ""), STARTS: when(f.startsAt), ENDS: when(f.endsAt),
      DURATION: String(w.duration ?? ""), BADGEIMG: String(w.badgeImg ?? ""), REPLAYLINK: String(w.replayLink ?? ""),
      USERNAME: String(f.username ?? `student${f.slot}`), HUBURL: String(f.hubUrl ?? ""),
      MINUTESLEFT: String(Math.max(0, Math.round((new Date(f.endsAt).getTime() - c.now.getTime()) / 60_000))),
      COMPLETION: completion === null || completion === undefined ? "" : String(Math.round(Number(completion) * 100)),
    });
  } else {
    const ss = c.config.studentServers;
    const warned = f.warnedAt ? new Date(f.warnedAt) : undefined;
    Object.assign(vars, {
      ADDRESS: String(f.ipv4 ?? ""), SSHUSER: "root", REGION: String(f.region ?? ""), HOSTKEY: String(f.hostKey ?? ""),
      REMOVAL: warned ? when(new Date(warned.getTime() + ss.warningDays * 86_400_000)) : "", IDLEDAYS: String(ss.idleDays),
      REASON: REASONS[String(f.removalReason)] ?? String(f.removalReason ?? "removed"), SNAPSHOT: String(f.snapshotId ?? ""),
    });
  }
  return vars;
}

/** `2026-12-01 13:00 UTC` in the configured zone. */
export function formatTime(t: Date, timeZone: string): string {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat("en-GB", { timeZone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZoneName: "short" })
      .formatToParts(t).map((p) => [p.type, p.value]),
  );
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute} ${parts.timeZoneName}`;
}

const indent = (text: string) => text.split("\n").map((l) => `    ${l}`).join("\n");
