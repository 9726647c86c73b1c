// The live slots of one workshop at one location (one shard of 100 slot numbers) as one
// resource: its slot table is the component's input, and one host-side sync converges the
// backend to it (components/host/sync-cohort.py): new slots activated, removed ones released,
// unchanged ones left alone. Passwords and secret variables reach the host on stdin only.
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import type { DesiredAccount, DesiredCohort } from "../infra/desired/types";
import { cohortSyncName } from "../infra/names";
import { learnerPassword } from "./passwords";
import { Connection, asRoot, hostScript, timeLimited } from "./remote";

export const STUDENT_COHORT = "wod:index:StudentCohort";

/** What the sync answers per slot (its stdout): never a password. */
export interface CohortResults {
  cohort: string;
  slots: Record<string, { registration: string; generation: number; status: "active" | "failed" | "release-failed"; error?: string }>;
  released: { registration: string; generation: number; slot: number; completionRatio: number | null; archive?: string; archiveTruncated?: boolean; releasedAt: string }[];
  summary: Record<string, number>;
}

export interface StudentCohortArgs {
  /** The cohort and its slot table, as the desired state decided them. */
  cohort: DesiredCohort;
  /** The live accounts in the slot table (variables, generation). */
  accounts: DesiredAccount[];
  /** uid/gid of student<N> is N + uidOffset on this backend. */
  uidOffset: number;
  /** SSH user of the connection. */
  sshUser: string;
  /** SSH connection to the backend (secret: holds the private key). */
  connection: pulumi.Input<Connection>;
  /** Hub URL learners open (fills WODBEURL/WODBEEXTFQDN when the location has no fqdn). */
  hubUrl: pulumi.Input<string>;
  /** Remote folder of the workshop content new activations render from. */
  workshopDir: string;
  /** The stack's password seed (secret). */
  passwordSeed: pulumi.Input<string>;
  /** Whether notebooks get the password as PASSSTU (WoD's `varpass`). */
  passwordInNotebooks: boolean;
  /** Start each learner's server at activation instead of at their first login. */
  startServers: boolean;
  /** Stack-level variables (`wod:variables`, may hold secrets): stdin only. */
  variables: pulumi.Input<Record<string, string>>;
  /** The workshop's appliance here: its address and what its student setup produced per slot. */
  appliance?: { address: pulumi.Input<string>; values: pulumi.Input<Record<string, Record<string, string>>> };
  /** The backend's machine: when it goes, this goes with it without running anything on it. */
  machine?: pulumi.Resource;
  /** The backend's bootstrap and the workshop content: the sync runs after both. */
  after: pulumi.Input<pulumi.Resource>[];
}

/** How long one sync may take on the host; the engine's limit sits a little above. */
export const SYNC_SECONDS = 1500;

export class StudentCohort extends pulumi.ComponentResource {
  /** Per-slot results of the last sync the engine applied. */
  public readonly results: pulumi.Output<CohortResults | undefined>;
  /** Passwords by registration id (secret), for the write-back's credentials. */
  public readonly passwords: pulumi.Output<Record<string, string>>;

  constructor(name: string, args: StudentCohortArgs, opts?: pulumi.ComponentResourceOptions) {
    const c = args.cohort;
    // The slot table and retries are the component's inputs: a preview shows per slot what comes and goes.
    super(STUDENT_COHORT, name, { slots: c.slots, retries: c.retries }, opts);
    for (const a of args.accounts) {
      if (c.slots[String(a.slot)] !== `${a.registrationId}#${a.generation}`) {
        throw new pulumi.ResourceError(`accounts: registration ${a.registrationId} on slot ${a.slot} is not in the slot table of ${c.name}`, this);
      }
      if (a.uid !== a.slot + args.uidOffset) throw new pulumi.ResourceError(`uid: ${a.uid} of ${a.username} is not slot ${a.slot} + uidOffset ${args.uidOffset}`, this);
      for (const key of Object.keys(a.variables)) {
        if (!/^[A-Za-z_][A-Za-z0-9_-]*$/.test(key)) throw new pulumi.ResourceError(`variables: "${key}" of registration ${a.registrationId} is not a variable name`, this);
        if (key === "PASSSTU") throw new pulumi.ResourceError(`variables: PASSSTU of registration ${a.registrationId} is the password and goes on stdin only`, this);
      }
    }
    if (Object.keys(c.slots).length !== args.accounts.length) {
      throw new pulumi.ResourceError(`accounts: ${args.accounts.length} accounts for ${Object.keys(c.slots).length} slots of ${c.name}`, this);
    }

    this.passwords = pulumi.secret(pulumi.output(args.passwordSeed).apply((seed) =>
      Object.fromEntries(args.accounts.map((a) => [a.registrationId, learnerPassword(seed, a.registrationId)]))));
    // What every slot of the cohort shares is sent once; each slot carries only what is its own
    // (ports, produced values, its password): the stdin, and the state holding it, stay small.
    const { shared, own } = splitVariables(args.accounts);
    // One apply for the whole cohort, not one per account.
    const stdin = pulumi.secret(
      pulumi.all([this.passwords, args.variables, args.hubUrl, args.appliance?.address, args.appliance?.values]).apply(
        ([passwords, stack, hubUrl, applianceAddress, produced]) => JSON.stringify({
          // Not read by the host: a new failed-release attempt count makes the engine run the sync again.
          retries: c.retries,
          variables: {
            ...hubVariables(hubUrl),
            ...(applianceAddress ? { [`IP-${c.folder}`]: applianceAddress } : {}),
            ...shared,
            ...stack,
          },
          slots: Object.fromEntries(args.accounts.map((a) => [a.slot, {
            registration: a.registrationId,
            generation: a.generation,
            password: passwords[a.registrationId],
            variables: {
              ...own.get(a.registrationId),
              ...(produced?.[String(a.slot)] ?? {}),
              ...(args.passwordInNotebooks ? { PASSSTU: passwords[a.registrationId] } : {}),
            },
          }])),
        })),
    );

    const flags = [
      "--cohort", c.name, "--workshop-dir", args.workshopDir, "--uid-offset", args.uidOffset, "--deadline", SYNC_SECONDS,
      ...(args.startServers ? ["--start-servers"] : []),
    ];
    const sync = new command.remote.Command(
      cohortSyncName(name),
      {
        connection: args.connection,
        create: asRoot(args.sshUser, timeLimited(SYNC_SECONDS, hostScript("sync-cohort.py", flags))),
        update: asRoot(args.sshUser, timeLimited(SYNC_SECONDS, hostScript("sync-cohort.py", flags))),
        delete: asRoot(args.sshUser, timeLimited(SYNC_SECONDS, hostScript("sync-cohort.py", [...flags, "--release-all"]))),
        stdin,
        // Progress (stderr) is logged; the results (stdout) are read from state, not the log.
        logging: "stderr",
        // The last results never go back to the host (see components/README.md, "Remote commands").
        addPreviousOutputInEnv: false,
      },
      {
        parent: this,
        dependsOn: args.after,
        deletedWith: args.machine,
        customTimeouts: { create: `${SYNC_SECONDS + 120}s`, update: `${SYNC_SECONDS + 120}s`, delete: `${SYNC_SECONDS + 120}s` },
      },
    );
    this.results = sync.stdout.apply(parseResults);
    this.registerOutputs({ results: this.results });
  }
}

/** The sync's last JSON line; undefined before it ever ran (preview) or when it printed none. */
export function parseResults(stdout: string | undefined): CohortResults | undefined {
  const line = (stdout ?? "").trim().split("\n").pop();
  try {
    return line ? (JSON.parse(line) as CohortResults) : undefined;
  } catch {
    return undefined;
  }
}

/** The host sets these itself for each slot (sync-cohort.py): no need to send them. */
const SET_BY_HOST = new Set(["STDID", "USERNAME", "WORKSHOP"]);

/** Variables equal for every account of the cohort, and each account's own (the rest). */
export function splitVariables(accounts: DesiredAccount[]): { shared: Record<string, string>; own: Map<string, Record<string, string>> } {
  const shared: Record<string, string> = {};
  const [first, ...rest] = accounts;
  for (const [k, v] of Object.entries(first?.variables ?? {})) {
    if (!SET_BY_HOST.has(k) && rest.every((a) => a.variables[k] === v)) shared[k] = v;
  }
  const own = new Map(accounts.map((a) => [a.registrationId, Object.fromEntries(Object.entries(a.variables).filter(([k]) => !(k in shared) && !SET_BY_HOST.has(k)))]));
  return { shared, own };
}

/** Without a public name in the config, notebooks get the backend's address as the stack knows it. */
function hubVariables(hubUrl: string | undefined): Record<string, string> {
  if (!hubUrl) return {};
  const url = new URL(hubUrl);
  return { WODBEURL: hubUrl, WODBEEXTFQDN: url.hostname, WODBEFQDN: url.hostname, WODBEPORT: url.port || "80" };
}
