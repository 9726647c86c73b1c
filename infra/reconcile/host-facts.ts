// Facts only the machines know: student servers' last SSH login, and the completion ratio
// each release recorded on its backend. Read over SSH with bounded concurrency and a timeout;
// an unreachable machine is reported, never taken as idle.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface HostReader {
  /** Runs a read-only command on the machine and returns its stdout; with a host key, on that machine only; input goes to its stdin. */
  read(address: string, command: string, hostKey?: string, input?: string): Promise<string>;
}

export interface HostFacts {
  lastSshAt: Record<string, Date>;
  /** Completion ratio (0..1) by registration id (digits only). */
  completions: Record<string, number>;
  unreachable: { what: string; address: string; reason: string }[];
  /** Records a machine returned that cannot be written back (one bad record never stops the others). */
  rejected: { what: string; address: string; record: string; reason: string }[];
  /** The hub's last sign of each active learner, by registration id (`wod status` shows it as last login). */
  hubLogins?: Record<string, Date>;
}

/**
 * The system ssh client, non-interactive, with a connect timeout. A machine with a known host key
 * (a backend: components/hostKeys.ts) must present it; one without (a student server) is trusted
 * on first use, as an admin's ssh would.
 */
export function sshReader(opts: { user?: string; keyFile?: string; port?: number; timeoutMs?: number } = {}): HostReader {
  const timeout = opts.timeoutMs ?? 15_000;
  return {
    read: (address, command, hostKey, input) =>
      new Promise((resolve, reject) => {
        const pinned = hostKey && mkdtempSync(join(tmpdir(), "wod-known-hosts."));
        if (pinned) writeFileSync(join(pinned, "known_hosts"), `${opts.port ? `[${address}]:${opts.port}` : address} ${hostKey}\n`);
        const trust = pinned
          ? ["-o", `UserKnownHostsFile=${join(pinned, "known_hosts")}`, "-o", "GlobalKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=yes"]
          : ["-o", "StrictHostKeyChecking=accept-new"];
        const args = ["-o", "BatchMode=yes", "-o", `ConnectTimeout=${Math.ceil(timeout / 1000)}`, ...trust,
          ...(opts.port ? ["-p", String(opts.port)] : []), ...(opts.keyFile ? ["-i", opts.keyFile] : []), `${opts.user ?? "root"}@${address}`, command];
        const child = execFile("ssh", args, { timeout, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
          if (pinned) rmSync(pinned, { recursive: true, force: true });
          err ? reject(new Error((stderr || err.message).trim().split("\n").pop())) : resolve(stdout);
        });
        child.stdin?.on("error", () => {}); // a command that reads no input may close it first
        child.stdin?.end(input ?? "");
      }),
  };
}

export async function collectHostFacts(
  reader: HostReader,
  targets: { servers: { learnerId: string; ipv4: string }[]; backends: { location: string; address: string; hostKey?: string }[] },
  opts: { concurrency?: number; log?: (m: string) => void } = {},
): Promise<HostFacts> {
  const facts: HostFacts = { lastSshAt: {}, completions: {}, unreachable: [], rejected: [], hubLogins: {} };
  // One job per machine, with what to call it if it cannot be read.
  const jobs: { what: string; address: string; read(): Promise<void> }[] = [
    ...targets.servers.map((s) => ({
      what: `student server of learner ${s.learnerId}`,
      address: s.ipv4,
      async read() {
        const text = (await reader.read(s.ipv4, "cat /var/lib/wod/last-ssh-login 2>/dev/null || true")).trim();
        if (!text) return;
        const at = parseLogin(text);
        if (at) facts.lastSshAt[s.learnerId] = at;
        else reject(`student server of learner ${s.learnerId}`, s.ipv4, text, "not a login time (ISO 8601 between 2000 and 9999)");
      },
    })),
    ...targets.backends.map((b) => ({
      what: `backend ${b.location}`,
      address: b.address,
      async read() {
        const text = await reader.read(b.address, "cat /var/lib/wod/released/*.json 2>/dev/null || true", b.hostKey);
        for (const line of text.split("\n")) {
          if (!line.trim()) continue;
          const r = parseRelease(line);
          if ("reason" in r) reject(`backend ${b.location}`, b.address, line, r.reason);
          else facts.completions[r.registration] = r.completionRatio;
        }
        // Last logins are a nicety: a backend whose scripts predate them (or whose hub does not
        // answer) still gives its completions.
        let activity = "";
        try {
          activity = (await reader.read(b.address, "python3 /opt/wod/bin/check-backend.py activity 2>/dev/null || true", b.hostKey)).trim();
        } catch {
          return;
        }
        if (!activity) return;
        try {
          for (const a of (JSON.parse(activity.split("\n").pop()!) as { activity: { registration: unknown; lastActivity: unknown }[] }).activity) {
            const at = typeof a.lastActivity === "string" ? parseLogin(a.lastActivity) : undefined;
            if (typeof a.registration === "string" && /^[1-9][0-9]{0,17}$/.test(a.registration) && at) facts.hubLogins![a.registration] = at;
            else reject(`backend ${b.location}`, b.address, JSON.stringify(a), "not a registration id and a login time");
          }
        } catch {
          reject(`backend ${b.location}`, b.address, activity, "the hub's last logins are not JSON");
        }
      },
    })),
  ];
  const reject = (what: string, address: string, record: string, reason: string) => {
    facts.rejected.push({ what, address, record: record.slice(0, 200), reason });
    opts.log?.(`host facts: ${what} (${address}): ignored ${JSON.stringify(record.slice(0, 80))}: ${reason}`);
  };
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const job = jobs[next++];
      try {
        await job.read();
      } catch (e) {
        facts.unreachable.push({ what: job.what, address: job.address, reason: (e as Error).message });
      }
      if (++done % 50 === 0) opts.log?.(`host facts: ${done}/${jobs.length} machines read`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.concurrency ?? 16, jobs.length) }, worker));
  return facts;
}

/** One line of a backend's release records: `{"registration": "<id>", "completionRatio": 0..1}`. */
export function parseRelease(line: string): { registration: string; completionRatio: number } | { reason: string } {
  let r: unknown;
  try {
    r = JSON.parse(line);
  } catch {
    return { reason: "not JSON" };
  }
  return checkRelease(r);
}

/**
 * A release record as a machine reported it (a file line, or a sync's JSON result), checked so
 * that writing it back can never fail: the id is a registration's (digits), the ratio in 0..1.
 */
export function checkRelease(r: unknown): { registration: string; completionRatio: number } | { reason: string } {
  if (!r || typeof r !== "object") return { reason: "not a release record" };
  const { registration, completionRatio } = r as Record<string, unknown>;
  const id = typeof registration === "number" && Number.isSafeInteger(registration) ? String(registration) : registration;
  // Registration ids are bigint serials: anything else could never match a row and breaks the update.
  if (typeof id !== "string" || !/^[1-9][0-9]{0,17}$/.test(id)) return { reason: `registration ${JSON.stringify(registration)?.slice(0, 40)} is not a registration id` };
  if (typeof completionRatio !== "number" || !(completionRatio >= 0 && completionRatio <= 1)) {
    return { reason: `completionRatio ${JSON.stringify(completionRatio)?.slice(0, 40)} is not a number between 0 and 1` };
  }
  return { registration: id, completionRatio };
}

/** A last-login time a database column can hold and an idleness rule can trust. */
function parseLogin(text: string): Date | undefined {
  const at = new Date(text);
  const year = at.getUTCFullYear();
  return Number.isNaN(at.getTime()) || year < 2000 || year > 9999 ? undefined : at;
}
