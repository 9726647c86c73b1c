// Removing a learner's server: snapshot first, then destroy, each step recorded in the database as
// it happens. The stack declares droplets with retainOnDelete, so a plain `pulumi up` that no
// longer declares one only forgets it — it never destroys a learner's machine without its
// snapshot. The reconcile removes the servers the decision removes (idle, revoked, passed the
// revoke lesson), by the droplet id the database holds, through the DigitalOcean API.
import type { Pool } from "pg";
import { STUDENT_SERVER_TAG, stackTag } from "../../components/studentServer";
import type { Transitions } from "../desired/types";

export interface ServerRemover {
  /** Snapshots the droplet and waits for it; undefined when the droplet no longer exists. */
  snapshot(dropletId: string, name: string): Promise<string | undefined>;
  /** Destroys the droplet; a droplet already gone counts as destroyed. */
  destroy(dropletId: string): Promise<void>;
  /** Every droplet carrying the tag (a remover without it skips the search for stray droplets). */
  tagged?(tag: string): Promise<TaggedDroplet[]>;
}

export interface TaggedDroplet {
  id: string;
  name: string;
  tags: string[];
}


/** The DigitalOcean API (token from DIGITALOCEAN_TOKEN, as the provider reads it). */
export function digitalOceanRemover(opts: { token: string; api?: string; pollMs?: number; timeoutMs?: number }): ServerRemover {
  const api = opts.api ?? "https://api.digitalocean.com/v2";
  const call = async (method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> => {
    const res = await fetch(api + path, {
      method,
      headers: { authorization: `Bearer ${opts.token}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(60_000),
    });
    const text = await res.text();
    if (!res.ok && res.status !== 404) throw new Error(`DigitalOcean ${method} ${path}: ${res.status} ${text.slice(0, 200)}`);
    return { status: res.status, json: text ? JSON.parse(text) : null };
  };
  const wait = async (actionId: number, what: string) => {
    const end = Date.now() + (opts.timeoutMs ?? 60 * 60_000);
    for (;;) {
      const { json } = await call("GET", `/actions/${actionId}`);
      if (json.action.status === "completed") return;
      if (json.action.status !== "in-progress") throw new Error(`${what}: ${json.action.status}`);
      if (Date.now() > end) throw new Error(`${what}: still in progress after ${(opts.timeoutMs ?? 3_600_000) / 60_000} min`);
      await new Promise((r) => setTimeout(r, opts.pollMs ?? 10_000));
    }
  };
  return {
    async snapshot(dropletId, name) {
      const droplet = await call("GET", `/droplets/${dropletId}`);
      if (droplet.status === 404) return undefined;
      // A live snapshot: no power-off, the learner's server keeps running until it is destroyed.
      const { json } = await call("POST", `/droplets/${dropletId}/actions`, { type: "snapshot", name });
      await wait(json.action.id, `snapshot ${name} of droplet ${dropletId}`);
      const after = await call("GET", `/droplets/${dropletId}/snapshots`);
      const snap = (after.json?.snapshots ?? []).find((s: { name: string }) => s.name === name);
      return String(snap?.id ?? name);
    },
    async destroy(dropletId) {
      await call("DELETE", `/droplets/${dropletId}`);
    },
    async tagged(tag) {
      const out: TaggedDroplet[] = [];
      for (let page = 1; ; page++) {
        const { json } = await call("GET", `/droplets?tag_name=${encodeURIComponent(tag)}&per_page=200&page=${page}`);
        const droplets = (json?.droplets ?? []) as { id: number; name: string; tags?: string[] }[];
        out.push(...droplets.map((d) => ({ id: String(d.id), name: d.name, tags: d.tags ?? [] })));
        if (!json?.links?.pages?.next || droplets.length === 0) return out;
      }
    },
  };
}

/**
 * Droplets tagged as student servers of this stack (or of no stack: made before the stack tag)
 * that no learner's server holds — neither the stack's state nor a live server row (one removed
 * within the hour may still be listed while DigitalOcean deletes it). Each keeps running and
 * billing: the reconcile reports them, an operator decides.
 */
export async function strayDroplets(pool: Pool, remover: ServerRemover, opts: { stack: string; inState: string[]; now: Date }): Promise<TaggedDroplet[]> {
  if (!remover.tagged) return [];
  const tagged = await remover.tagged(STUDENT_SERVER_TAG);
  const { rows } = await pool.query(
    "select droplet_id from student_servers where droplet_id is not null and (removed_at is null or removed_at > $1::timestamptz - interval '1 hour')",
    [opts.now],
  );
  const held = new Set([...opts.inState, ...rows.map((r) => r.droplet_id as string)]);
  const ours = stackTag(opts.stack);
  return tagged.filter((d) => !held.has(d.id) && (d.tags.includes(ours) || !d.tags.some((t) => t.startsWith("wod-stack:"))));
}

export interface RemovalSummary {
  removed: number;
  snapshots: number;
  failed: { learnerId: string; reason: string }[];
}

/** Snapshots (when enabled) and destroys every server the decision removes; never stops at one failure. */
export async function removeServers(
  pool: Pool,
  remover: ServerRemover,
  removals: Transitions["removeServers"],
  opts: { snapshot: boolean; now: Date; log?: (m: string) => void },
): Promise<RemovalSummary> {
  const summary: RemovalSummary = { removed: 0, snapshots: 0, failed: [] };
  if (removals.length === 0) return summary;
  const rows = new Map(
    (await pool.query(
      "select learner_id::text, droplet_id, snapshot_at from student_servers where learner_id = any($1::bigint[]) and removed_at is null",
      [removals.map((r) => r.learnerId)],
    )).rows.map((r) => [r.learner_id as string, r]),
  );
  for (const { learnerId, reason } of removals) {
    const row = rows.get(learnerId);
    if (!row) continue;
    try {
      if (row.droplet_id && opts.snapshot && !row.snapshot_at) {
        const name = `wod-learner-${learnerId}-${opts.now.toISOString().slice(0, 10)}`;
        opts.log?.(`student server of learner ${learnerId}: snapshot ${name}…`);
        const id = await remover.snapshot(row.droplet_id, name);
        if (id !== undefined) {
          await pool.query("update student_servers set snapshot_id = $2, snapshot_at = $3 where learner_id = $1", [learnerId, id, opts.now]);
          summary.snapshots++;
        }
      }
      if (row.droplet_id) await remover.destroy(row.droplet_id);
      await pool.query(
        "update student_servers set removed_at = $2, removal_reason = $3, ipv4 = null where learner_id = $1 and removed_at is null",
        [learnerId, opts.now, reason],
      );
      summary.removed++;
    } catch (e) {
      summary.failed.push({ learnerId, reason: (e as Error).message });
    }
  }
  return summary;
}
