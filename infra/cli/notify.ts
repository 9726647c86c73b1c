// `wod notify` (send learners' e-mails from the outbox) and `wod messages` (one learner's e-mails
// and their state). DATABASE_URL, or the embedded demo database.
import { openDatabase } from "../db/connect";
import { migrate } from "../db/migrate";
import { DatabaseBehind, ROOT } from "../load";
import { hasOutbox, listMessages } from "../notify/outbox";
import { renderMessages, renderPass } from "../notify/report";
import { notifyForever, notifyOnce } from "../notify/run";
import { envSecrets, firstOf, type NotifySecrets, pulumiSecrets } from "../notify/secrets";
import { listenWaker } from "../notify/wake";
import { parseCommandLine, readStack, recordId, stackName, UsageError } from "./exit";

export const NOTIFY_USAGE = `usage: wod notify [--once] [--dry-run] [--now T] [--stack NAME] [--pulumi-stack ORG/wod/NAME] [--json]
  sends learners' e-mails from the outbox through wod:smtp; without --once it keeps running, sending each
  message as it becomes due (a systemd unit or a Kubernetes Deployment: see README, "E-mails to learners")
  --once           send what is due now, then exit
  --dry-run        print what would be sent; send and change nothing
  --now T          decide what is due as of T (ISO 8601)
  --stack NAME     the stack file Pulumi.NAME.yaml (default dev): wod:smtp, wod:notifications, the catalog's texts
  --pulumi-stack   read wod:smtp.password and the passwordSeed output through the Pulumi CLI (default: $WOD_PULUMI_STACK,
                   else $WOD_PULUMI_ORG/wod/NAME when WOD_PULUMI_ORG is set); WOD_SMTP_PASSWORD(_FILE) and
                   WOD_PASSWORD_SEED(_FILE) come first
exit codes: 0 done; 2 bad input, config or database error; 5 some messages could not be sent now (SMTP server
  down, a refusal for now): they are retried`;

export const MESSAGES_USAGE = `usage: wod messages (--registration N | --learner N | --email E) [--json]
  a learner's e-mails, oldest first: kind, state (due, failing, sent, undeliverable, given-up, skipped), when, tries, why
exit codes: 0 listed; 1 none; 2 bad input`;

export async function notifyCommand(argv: string[]): Promise<number> {
  const { values: a } = parseCommandLine({
    args: argv,
    options: {
      once: { type: "boolean", default: false }, "dry-run": { type: "boolean", default: false }, now: { type: "string" }, stack: { type: "string" },
      "pulumi-stack": { type: "string" }, json: { type: "boolean", default: false }, help: { type: "boolean", short: "h" },
    },
  }, NOTIFY_USAGE);
  if (a.help) return console.log(NOTIFY_USAGE), 0;
  const now = a.now ? new Date(a.now) : undefined;
  if (now && Number.isNaN(now.getTime())) throw new UsageError(`--now: not a date: ${a.now}`);
  if (now && !a.once && !a["dry-run"]) throw new UsageError("--now goes with --once or --dry-run (a running worker sends at the real time)");
  const stack = stackName(a.stack ?? "dev");
  const config = readStack(stack);
  const log = (m: string) => console.error(`wod: ${m}`);
  const secrets = notifySecrets(stack, a["pulumi-stack"], log);

  const db = await openDatabase({ log });
  try {
    await ready(db);
    const print = (r: Parameters<typeof renderPass>[0]) => console.log(a.json ? JSON.stringify(r) : renderPass(r, !!config.smtp));
    if (a.once || a["dry-run"]) {
      const r = await notifyOnce({ pool: db.pool, config, secrets, now: now ? () => now : undefined, dryRun: a["dry-run"], log, print: (m) => console.log(m) });
      print(r);
      return r.serverDown || r.failed || r.givenUp ? 5 : 0;
    }
    if (!config.smtp) log("wod:smtp is not set: the worker sends nothing until it is (messages wait)");
    let stop = false;
    const waker = listenWaker((db.pool.options as { connectionString: string }).connectionString, log);
    const stopNow = () => {
      stop = true;
      void waker.close();
    };
    process.once("SIGINT", stopNow);
    process.once("SIGTERM", stopNow);
    log(`notify: running on ${db.describe}; waiting for messages`);
    try {
      await notifyForever({ pool: db.pool, config, secrets, log, waker, stopped: () => stop, report: print });
    } finally {
      await waker.close();
    }
    return 0;
  } finally {
    await db.close();
  }
}

/** Environment first, then the Pulumi CLI when a stack name is known. */
function notifySecrets(stack: string, explicit: string | undefined, log: (m: string) => void): NotifySecrets {
  const sources = [envSecrets()];
  if (explicit || process.env.WOD_PULUMI_STACK || process.env.WOD_PULUMI_ORG) {
    // Loaded only then: the reconcile's module pulls in the Automation API.
    const { pulumiStackName } = require("./reconcile") as typeof import("./reconcile");
    sources.push(pulumiSecrets({ stack: pulumiStackName(stack, explicit), workDir: ROOT }));
  }
  return firstOf(sources, (m) => log(`could not read ${m}`));
}

/** The outbox must exist: the embedded demo database is migrated; a platform database is refused until migrated. */
async function ready(db: Awaited<ReturnType<typeof openDatabase>>) {
  if (db.embedded) await migrate(db.pool);
  else if (!(await hasOutbox(db.pool))) throw new DatabaseBehind(`${db.describe} has no outbox yet (migration 003_outbox.sql): run \`wod migrate\` (or let the next up apply it) first`);
}

export async function messagesCommand(argv: string[]): Promise<number> {
  const { values: a } = parseCommandLine({
    args: argv,
    options: { registration: { type: "string" }, learner: { type: "string" }, email: { type: "string" }, json: { type: "boolean", default: false }, help: { type: "boolean", short: "h" } },
  }, MESSAGES_USAGE);
  if (a.help) return console.log(MESSAGES_USAGE), 0;
  const given = ["registration", "learner", "email"].filter((k) => a[k as "email"] !== undefined);
  if (given.length !== 1) throw new UsageError("give exactly one of --registration, --learner, --email (see wod messages --help)");
  const who = {
    registration: a.registration !== undefined ? recordId(a.registration, "--registration") : undefined,
    learner: a.learner !== undefined ? recordId(a.learner, "--learner") : undefined,
    email: a.email,
  };
  const db = await openDatabase({ log: (m) => console.error(`wod: ${m}`) });
  try {
    await ready(db);
    const list = await listMessages(db.pool, who);
    console.log(a.json ? JSON.stringify(list, null, 2) : renderMessages(list));
    return list.length ? 0 : 1;
  } finally {
    await db.close();
  }
}
