// Demo data for a fresh database: participants in every sample workshop (one expired, one
// ending soon) and learners in each student-server situation, including two bad rows.
import { type Db, inTransaction, register } from "./registrations";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const KEYS = [
  "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIsoBB1XvutRFFY7+MC+u+3xUw9wKDMLfHfuwhZitVxa learner1@example.org",
  "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMj7mf4GuIk4gBRKTVRzyzOfQ9gSVqUrLB4+WL1FjJZu learner2@example.org",
  "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKiWBR+7P91WnI3/RC8TAaLblEo8iCUVc692JG4ksMXd learner3@example.org",
  "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGPpv40T7faN8owOdhzE0of1WzRyMtpkh7DQLq6B6FiM learner4@example.org",
];

export interface SeedResult {
  /** False when the database already held participants or learners (nothing written). */
  seeded: boolean;
  /** Demo registrations left out, with the reason (a catalog without the demo's workshops). */
  skipped: string[];
}

/** Seeds only an empty database, booking only what its catalog offers. */
export async function seedDemo(pool: Db, now = new Date()): Promise<SeedResult> {
  if (!(await isEmpty(pool))) return { seeded: false, skipped: [] };
  const at = (ms: number) => new Date(now.getTime() + ms);
  const refused = new Map<string, string>();
  const book = async (email: string, workshop: string, startsAt = now) => {
    if (refused.has(workshop)) return;
    const r = await register(pool, { email, workshop, startsAt });
    if (!r.ok) refused.set(workshop, r.message);
  };
  for (let i = 1; i <= 6; i++) await book(`ada${i}@example.org`, "Python101");
  await book("late@example.org", "Python101", at(-3.5 * HOUR)); // ends within the hour
  await book("gone@example.org", "Python101", at(-5 * HOUR)); // expired: released next run
  for (let i = 1; i <= 3; i++) await book(`grace${i}@example.org`, "Docker101");
  for (let i = 1; i <= 4; i++) await book(`linus${i}@example.org`, "GitIntro");

  await inTransaction(pool, async (c) => {
    const learner = async (email: string, key: string | null, region: string | null, passed: Record<string, number>) => {
      const id = (await c.query("insert into learners (email, ssh_public_key, region) values ($1, $2, $3) returning id", [email, key, region])).rows[0].id;
      for (const [lesson, ago] of Object.entries(passed)) {
        await c.query("insert into lesson_progress (learner_id, lesson, passed_at) values ($1, $2, $3)", [id, lesson, at(-ago)]);
      }
      return id;
    };
    await learner("nia@example.org", KEYS[0], "fra1", { js3: 9 * DAY, js4: 2 * DAY }); // new: gets a server
    const busy = await learner("omar@example.org", KEYS[1], "ams3", { js4: 30 * DAY }); // has one, logs in
    const idle = await learner("pia@example.org", KEYS[2], "fra1", { js4: 40 * DAY }); // idle: warned
    const done = await learner("raj@example.org", KEYS[3], "fra1", { js4: 50 * DAY, js5: DAY }); // passed js5: removed
    await learner("sam@example.org", "ssh-rsa not-a-key sam@laptop", "fra1", { js4: DAY }); // rejected: bad key
    await learner("tao@example.org", KEYS[0].replace("learner1", "tao"), "sgp1", { js4: DAY }); // rejected: region
    await learner("uma@example.org", null, null, { js1: DAY }); // not there yet
    const server = (learnerId: string, ip: string, created: number, lastSsh: number | null) =>
      c.query(
        "insert into student_servers (learner_id, droplet_id, ipv4, region, created_at, last_ssh_at) select $1, $2, $3, region, $4, $5 from learners where id = $1",
        [learnerId, `demo-${learnerId}`, ip, at(-created), lastSsh === null ? null : at(-lastSsh)],
      );
    await server(busy, "192.0.2.11", 29 * DAY, 2 * HOUR);
    await server(idle, "192.0.2.12", 39 * DAY, 20 * DAY);
    await server(done, "192.0.2.13", 49 * DAY, 3 * DAY);
  });
  return { seeded: true, skipped: [...refused].map(([workshop, why]) => `demo registrations for ${workshop}: ${why}`) };
}

/** No participants and no learners: a database nothing was registered in yet. */
export async function isEmpty(pool: Db): Promise<boolean> {
  const { rows } = await pool.query("select (select count(*) from participants) + (select count(*) from learners) as n");
  return Number(rows[0].n) === 0;
}
