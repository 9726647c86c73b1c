// One consistent read of everything the decision needs (a repeatable-read transaction).
import { Pool, type PoolClient } from "pg";

export interface RegistrationRow {
  id: string;
  participantId: string;
  email: string;
  workshop: string;
  location: string;
  slot: number;
  status: "pending" | "active";
  startsAt: Date;
  endsAt: Date;
  /** Bumped by an operator's reset of this learner: the slot is activated afresh. */
  generation: number;
  /** Failed release attempts so far (the host said why in releaseError). */
  releaseAttempts: number;
}

/** A registration that ended (cancelled, or failed) whose release the backend has not confirmed yet. */
export interface ClosingRow {
  id: string;
  workshop: string;
  location: string;
  slot: number;
  status: "cancelled" | "failed";
  generation: number;
  releaseAttempts: number;
}

export interface LearnerRow {
  id: string;
  email: string;
  sshPublicKey: string | null;
  region: string | null;
  /** Passed lessons with their pass time. */
  passed: Record<string, Date>;
}

export interface StudentServerRow {
  learnerId: string;
  dropletId: string | null;
  ipv4: string | null;
  region: string;
  createdAt: Date;
  lastSshAt: Date | null;
  warnedAt: Date | null;
  extendedUntil: Date | null;
  revokedAt: Date | null;
  removedAt: Date | null;
}

export interface Snapshot {
  /** Live registrations (pending or active). */
  registrations: RegistrationRow[];
  /** Cancelled and failed registrations still waiting for their release. */
  closing: ClosingRow[];
  learners: LearnerRow[];
  studentServers: StudentServerRow[];
}

/** Given a client already in a transaction (an audited command), reads within it. */
export async function readSnapshot(pool: Pool | PoolClient): Promise<Snapshot> {
  const own = pool instanceof Pool;
  const client = own ? await pool.connect() : pool;
  try {
    if (own) await client.query("begin isolation level repeatable read read only");
    const regs = await client.query(
      `select r.id::text, r.participant_id::text, p.email, r.workshop, r.location, r.slot, r.status, r.starts_at, r.ends_at,
              r.generation, r.release_attempts
         from registrations r join participants p on p.id = r.participant_id
        where r.status in ('pending', 'active') order by r.id`,
    );
    const closing = await client.query(
      `select id::text, workshop, location, slot, status, generation, release_attempts from registrations
        where status in ('cancelled', 'failed') and released_at is null order by id`,
    );
    const learners = await client.query(
      `select l.id::text, l.email, l.ssh_public_key, l.region,
              coalesce(jsonb_object_agg(lp.lesson, lp.passed_at) filter (where lp.passed_at is not null), '{}') as passed
         from learners l left join lesson_progress lp on lp.learner_id = l.id
        group by l.id order by l.id`,
    );
    const servers = await client.query(
      `select learner_id::text, droplet_id, host(ipv4) as ipv4, region, created_at, last_ssh_at, warned_at,
              extended_until, revoked_at, removed_at
         from student_servers order by learner_id`,
    );
    if (own) await client.query("commit");
    return {
      registrations: regs.rows.map((r) => ({
        id: r.id, participantId: r.participant_id, email: r.email, workshop: r.workshop, location: r.location,
        slot: r.slot, status: r.status, startsAt: r.starts_at, endsAt: r.ends_at, generation: r.generation,
        releaseAttempts: r.release_attempts,
      })),
      closing: closing.rows.map((r) => ({
        id: r.id, workshop: r.workshop, location: r.location, slot: r.slot, status: r.status, generation: r.generation,
        releaseAttempts: r.release_attempts,
      })),
      learners: learners.rows.map((r) => ({
        id: r.id, email: r.email, sshPublicKey: r.ssh_public_key, region: r.region,
        passed: Object.fromEntries(Object.entries(r.passed as Record<string, string>).map(([k, v]) => [k, new Date(v)])),
      })),
      studentServers: servers.rows.map((r) => ({
        learnerId: r.learner_id, dropletId: r.droplet_id, ipv4: r.ipv4, region: r.region, createdAt: r.created_at,
        lastSshAt: r.last_ssh_at, warnedAt: r.warned_at, extendedUntil: r.extended_until, revokedAt: r.revoked_at,
        removedAt: r.removed_at,
      })),
    };
  } catch (e) {
    if (own) await client.query("rollback").catch(() => {});
    throw e;
  } finally {
    if (own) (client as PoolClient).release();
  }
}
