// `npm run db:migrate`: applies the SQL migrations to DATABASE_URL (or the embedded database).
import { openDatabase } from "../db/connect";
import { migrate } from "../db/migrate";

async function main() {
  const db = await openDatabase({ log: (m) => console.error(`wod: ${m}`) });
  try {
    const applied = await migrate(db.pool);
    console.log(applied.length ? `applied ${applied.join(", ")} to ${db.describe}` : `${db.describe} is up to date`);
  } finally {
    await db.close();
  }
}

main().catch((e) => {
  console.error(`wod: ${e.message}`);
  process.exit(2);
});
