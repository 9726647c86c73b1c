// `wod notify`'s glue: the mailer from wod:smtp and the secrets, one pass, the counts after it;
// the long-running form repeats passes, waiting for the next due message or a wake-up.
import * as path from "node:path";
import type { Pool } from "pg";
import type { StackConfig } from "../config";
import { ROOT } from "../load";
import { countMessages, type MessageCounts, nextDue } from "./outbox";
import { cached, type NotifySecrets } from "./secrets";
import { type Mailer, smtpMailer } from "./smtp";
import type { Waker } from "./wake";
import { notifyPass, type PassSummary, workerName } from "./worker";

export interface NotifyReport extends PassSummary {
  /** The outbox after the pass. */
  counts: MessageCounts;
}

export interface NotifyOptions {
  pool: Pool;
  config: StackConfig;
  secrets: NotifySecrets;
  now?: () => Date;
  dryRun?: boolean;
  log?: (m: string) => void;
  print?: (m: string) => void;
  /** Tests: a mailer of their own (default: nodemailer on wod:smtp). */
  mailer?: Mailer;
  worker?: string;
}

/** The mailer for wod:smtp, or why there is none (no wod:smtp: messages wait). */
export async function mailerFor(config: StackConfig, secrets: NotifySecrets): Promise<Mailer | undefined> {
  if (!config.smtp) return undefined;
  const password = config.smtp.user ? await secrets.smtpPassword() : undefined;
  if (config.smtp.user && !password) {
    throw new Error("wod:smtp.user is set but no SMTP password was found: set WOD_SMTP_PASSWORD (or WOD_SMTP_PASSWORD_FILE), or give wod notify the Pulumi CLI and the stack (--pulumi-stack) to read wod:smtp.password");
  }
  return smtpMailer(config.smtp, password, { connections: config.notifications.concurrency });
}

/** One pass: what is due is sent (or printed, with dryRun), and the outbox is counted. */
export async function notifyOnce(o: NotifyOptions): Promise<NotifyReport> {
  const now = (o.now ?? (() => new Date()))();
  const mailer = o.dryRun ? undefined : (o.mailer ?? (await mailerFor(o.config, o.secrets)));
  try {
    const pass = await notifyPass({
      pool: o.pool, config: o.config, workshopsDir: path.resolve(ROOT, o.config.workshopsDir), mailer, now, dryRun: o.dryRun,
      passwordSeed: mailer || o.dryRun ? await o.secrets.passwordSeed() : undefined, worker: o.worker, log: o.log, print: o.print,
    });
    return { ...pass, counts: await countMessages(o.pool, now, o.config.notifications.endingSoonMinutes) };
  } finally {
    if (mailer !== o.mailer) mailer?.close();
  }
}

/**
 * The worker: passes until stopped. Between passes it waits for the next due message, a wake-up
 * from the outbox's trigger, or at most a minute; while the SMTP server is down, it backs off.
 */
export async function notifyForever(o: NotifyOptions & { waker: Waker; stopped: () => boolean; report: (r: NotifyReport) => void }): Promise<void> {
  const log = o.log ?? (() => {});
  const worker = o.worker ?? workerName();
  const secrets = cached(o.secrets, 10 * 60_000); // a rotated seed reaches a running worker within 10 minutes
  const mailer = o.mailer ?? (await mailerFor(o.config, secrets));
  let downFor = 0;
  try {
    while (!o.stopped()) {
      let r: NotifyReport | undefined;
      try {
        r = await notifyOnce({ ...o, secrets, mailer, worker });
        if (r.sent || r.failed || r.givenUp || r.undeliverable || r.serverDown) o.report(r);
        downFor = r.serverDown ? Math.min(Math.max(downFor * 2, 5_000), 300_000) : 0;
      } catch (e) {
        // The database is gone for a moment: nothing is lost (the outbox is the database), try again.
        log(`notify: pass failed: ${(e as Error).message}`);
        downFor = Math.min(Math.max(downFor * 2, 5_000), 300_000);
      }
      if (o.stopped()) break;
      let wait = downFor || 60_000;
      if (!downFor && r?.noSmtp === undefined) {
        const at = await nextDue(o.pool, o.config.notifications.endingSoonMinutes).catch(() => undefined);
        if (at) wait = Math.min(wait, Math.max(200, at.getTime() - Date.now()));
      }
      if (downFor) log(`notify: the SMTP server is unavailable; next try in ${Math.round(downFor / 1000)} s`);
      await o.waker.wait(wait);
    }
  } finally {
    mailer?.close();
  }
}

/**
 * The reconcile's closing pass: secrets from the environment, else the Pulumi stack the run
 * updated. Never fails the reconcile: a problem is reported in its place.
 */
export async function notifyAfterRun(pool: Pool, config: StackConfig, pulumiStack: string, log: (m: string) => void): Promise<NotifyReport | { error: string }> {
  const { envSecrets, firstOf, pulumiSecrets } = await import("./secrets");
  try {
    const secrets = firstOf([envSecrets(), pulumiSecrets({ stack: pulumiStack, workDir: ROOT })], (m) => log(`notify: could not read ${m}`));
    return await notifyOnce({ pool, config, secrets, log });
  } catch (e) {
    return { error: (e as Error).message };
  }
}
