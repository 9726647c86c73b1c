// Facts only the machines know: student servers' last SSH login, and the completion ratio
// each release recorded on its backend. Read over SSH with bounded concurrency and a timeout;
// an unreachable machine is reported, never taken as idle.
import { execFile } from "node:child_process";

export interface HostReader {
  /** Runs a read-only command on the machine and returns its stdout. */
  read(address: string, command: string): Promise<string>;
}

export interface HostFacts {
  lastSshAt: Record<string, Date>;
  completions: Record<string, number>;
  unreachable: { what: string; address: string; reason: string }[];
}

/** The system ssh client, non-interactive, with a connect timeout. */
export function sshReader(opts: { user?: string; keyFile?: string; timeoutMs?: number } = {}): HostReader {
  const timeout = opts.timeoutMs ?? 15_000;
  return {
    read: (address, command) =>
      new Promise((resolve, reject) => {
        const args = ["-o", "BatchMode=yes", "-o", `ConnectTimeout=${Math.ceil(timeout / 1000)}`, "-o", "StrictHostKeyChecking=accept-new",
          ...(opts.keyFile ? ["-i", opts.keyFile] : []), `${opts.user ?? "root"}@${address}`, command];
        execFile("ssh", args, { timeout, maxBuffer: 16 << 20 }, (err, stdout, stderr) =>
          err ? reject(new Error((stderr || err.message).trim().split("\n").pop())) : resolve(stdout));
      }),
  };
}

export async function collectHostFacts(
  reader: HostReader,
  targets: { servers: { learnerId: string; ipv4: string }[]; backends: { location: string; address: string }[] },
  opts: { concurrency?: number; log?: (m: string) => void } = {},
): Promise<HostFacts> {
  const facts: HostFacts = { lastSshAt: {}, completions: {}, unreachable: [] };
  // One job per machine, with what to call it if it cannot be read.
  const jobs: { what: string; address: string; read(): Promise<void> }[] = [
    ...targets.servers.map((s) => ({
      what: `student server of learner ${s.learnerId}`,
      address: s.ipv4,
      async read() {
        const text = (await reader.read(s.ipv4, "cat /var/lib/wod/last-ssh-login 2>/dev/null || true")).trim();
        const at = new Date(text);
        if (text && !Number.isNaN(at.getTime())) facts.lastSshAt[s.learnerId] = at;
      },
    })),
    ...targets.backends.map((b) => ({
      what: `backend ${b.location}`,
      address: b.address,
      async read() {
        const text = await reader.read(b.address, "cat /var/lib/wod/released/*.json 2>/dev/null || true");
        for (const line of text.split("\n")) {
          try {
            const r = JSON.parse(line);
            if (typeof r.registration === "string" && typeof r.completionRatio === "number") facts.completions[r.registration] = r.completionRatio;
          } catch {
            // not a record line
          }
        }
      },
    })),
  ];
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
