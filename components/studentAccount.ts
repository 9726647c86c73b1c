// One live registration on its slot: a fresh password, activation on create
// (activate-slot.sh) and release on delete (release-slot.sh).
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import * as random from "@pulumi/random";
import type { DesiredAccount } from "../infra/desired/types";
import { Connection, asRoot, hostScript } from "./remote";

export const STUDENT_ACCOUNT = "wod:index:StudentAccount";


export interface StudentAccountArgs {
  /** The registration and its slot, as the desired state decided them. */
  account: DesiredAccount;
  /** uid/gid of student<N> is N + uidOffset on this backend. */
  uidOffset: number;
  /** SSH user of the connection. */
  sshUser: string;
  /** SSH connection to the backend (secret: holds the private key). */
  connection: pulumi.Input<Connection>;
  /** Hub URL the learner opens. */
  hubUrl: pulumi.Input<string>;
  /** Remote folder of the workshop content the account is rendered from. */
  workshopDir: string;
  /** The backend's bootstrap and the workshop's content: activation runs after both. */
  after: pulumi.Input<pulumi.Resource>[];
}

/**
 * Named by slot, not by registration (`<location>-student<N>`): when a slot passes from one
 * registration to the next in a single run, it is one resource replaced delete-first, so the old
 * registration is released before the new one is activated (the host scripts tolerate either
 * order; this keeps one slot = one resource in the plan).
 */
export class StudentAccount extends pulumi.ComponentResource {
  /** Linux user, `student<slot>`. */
  public readonly username: pulumi.Output<string>;
  /** The learner's password (secret). */
  public readonly password: pulumi.Output<string>;
  /** Hub URL the learner opens. */
  public readonly hubUrl: pulumi.Output<string>;

  constructor(name: string, args: StudentAccountArgs, opts?: pulumi.ComponentResourceOptions) {
    super(STUDENT_ACCOUNT, name, {}, opts);
    const a = args.account;
    if (a.uid !== a.slot + args.uidOffset) throw new pulumi.ResourceError(`uid: ${a.uid} of ${a.username} is not slot ${a.slot} + uidOffset ${args.uidOffset}`, this);
    if (a.username !== `student${a.slot}`) throw new pulumi.ResourceError(`username: "${a.username}" is not student${a.slot}`, this);
    const vars = Object.entries(a.variables).sort(([x], [y]) => x.localeCompare(y));
    for (const [key] of vars) {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) throw new pulumi.ResourceError(`variables: "${key}" of registration ${a.registrationId} is not a variable name`, this);
      // The host adds the password from stdin; it never travels on a command line.
      if (key === "PASSSTU") throw new pulumi.ResourceError(`variables: PASSSTU of registration ${a.registrationId} is the password and goes on stdin only`, this);
    }

    // A new registration on this slot gets a new password; nothing else rotates it.
    const password = new random.RandomPassword(
      `${name}-password`,
      { length: 12, special: false, minLower: 1, minUpper: 1, minNumeric: 1, keepers: { registration: a.registrationId } },
      { parent: this },
    );
    this.password = pulumi.secret(password.result);

    const slotFlags = ["--registration", a.registrationId, "--slot", a.slot, "--uid-offset", args.uidOffset];
    const activate = (v: [string, string][]) =>
      asRoot(args.sshUser, hostScript("activate-slot.sh", [...slotFlags, "--workshop-dir", args.workshopDir, ...v.flatMap(([k, x]) => ["--var", `${k}=${x}`])]));
    new command.remote.Command(
      `${name}-activation`,
      {
        connection: args.connection,
        create: hasHub(vars)
          ? activate(vars)
          : pulumi.output(args.hubUrl).apply((url) => activate(withHub(vars, url))),
        delete: asRoot(args.sshUser, hostScript("release-slot.sh", slotFlags)),
        stdin: this.password,
        // A new registration replaces the activation (release first, then activate); new content
        // changes `create` only, which activates again without a release.
        triggers: [a.registrationId],
      },
      { parent: this, dependsOn: args.after, deleteBeforeReplace: true },
    );

    this.username = pulumi.output(a.username);
    this.hubUrl = pulumi.output(args.hubUrl);
    this.registerOutputs({ username: this.username, password: this.password, hubUrl: this.hubUrl });
  }
}

const hasHub = (vars: [string, string][]) => ["WODBEURL", "WODBEEXTFQDN"].every((k) => vars.some(([x]) => x === k));

/** Without a public name in the config, the notebooks get the backend's address as the stack knows it. */
function withHub(vars: [string, string][], hubUrl: string): [string, string][] {
  const have = new Set(vars.map(([k]) => k));
  const extra: [string, string][] = [];
  if (!have.has("WODBEURL")) extra.push(["WODBEURL", hubUrl]);
  if (!have.has("WODBEEXTFQDN")) extra.push(["WODBEEXTFQDN", new URL(hubUrl).hostname]);
  return [...vars, ...extra].sort(([x], [y]) => x.localeCompare(y));
}
