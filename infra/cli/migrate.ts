// `wod migrate` (`npm run db:migrate`): applies the SQL migrations to DATABASE_URL (or the
// embedded database). Exit codes: 0 applied or up to date, 2 bad input or database error.
import { openDatabase } from "../db/connect";
import { migrate } from "../db/migrate";
import { newAuditContext, tryRecordEntry } from "../audit/record";
import { parseCommandLine, runCommand } from "./exit";

export const MIGRATE_USAGE = `usage: wod migrate
  applies infra/db/migrations/*.sql to DATABASE_URL (or the embedded database), each once
exit codes: 0 applied or up to date, 2 bad input or database error`;

export async function migrateCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandLine({ args: argv, options: { help: { type: "boolean", short: "h" } } }, MIGRATE_USAGE);
  if (values.help) return console.log(MIGRATE_USAGE), 0;
  const db = await openDatabase({ log: (m) => console.error(`wod: ${m}`) });
  try {
    const ctx = newAuditContext();
    const applied = await migrate(db.pool);
    // After the migrations: the trail itself arrives with 006.
    await tryRecordEntry(db.pool, ctx, { command: "migrate", outcome: "done", exitCode: 0, changes: { applied } }, (m) => console.error(`wod: ${m}`));
    console.log(applied.length ? `applied ${applied.join(", ")} to ${db.describe}` : `${db.describe} is up to date`);
    return 0;
  } finally {
    await db.close();
  }
}

if (require.main === module) runCommand(() => migrateCommand(process.argv.slice(2)));
