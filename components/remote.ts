// What every component needs to reach a machine: the SSH connection, command lines for the host
// scripts, folder copies, and the naming rules of the clouds.
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";

export type Connection = command.types.input.remote.ConnectionArgs;

/** Host scripts on every machine (components/host/README.md). */
export const BIN_DIR = "/opt/wod/bin";
/** Workshop folders, content-addressed: <WORKSHOPS_DIR>/<WKSHP-Name>/<contentHash>/. */
export const WORKSHOPS_DIR = "/opt/wod/workshops";

/** Quotes one shell word; plain words stay readable in `pulumi preview`. */
export function shellQuote(word: string | number): string {
  const s = String(word);
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** `bash|python3 /opt/wod/bin/<script> <args…>`, every argument quoted. Secrets never go here: they go on stdin. */
export function hostScript(script: string, args: (string | number)[]): string {
  // Through the interpreter: a copied file's execute bit is not guaranteed to survive the copy.
  const interpreter = script.endsWith(".py") ? "python3" : "bash";
  return [interpreter, `${BIN_DIR}/${script}`, ...args].map(shellQuote).join(" ");
}

/**
 * The host itself ends a command that outlives its limit (TERM, then KILL a minute later): the
 * engine's customTimeouts are not honoured by every provider, and a stuck host must never hold
 * a reconcile (and its lock) forever.
 */
export function timeLimited(seconds: number, line: string): string {
  return `timeout --kill-after=60 ${seconds + 30} ${line}`;
}

/** Runs a command line as root: directly for root, through passwordless sudo otherwise (stdin passes through). */
export function asRoot(user: string, line: string): string {
  return user === "root" ? line : `sudo -n sh -c ${shellQuote(line)}`;
}

/**
 * The platform's SSH connection; a secret because it holds the private key. With a host key, the
 * connection accepts that key only (components/hostKeys.ts); without one, any (an existing host
 * whose key the config does not give).
 */
export function connectionTo(host: pulumi.Input<string>, user: string, privateKey: pulumi.Input<string>, hostKey?: pulumi.Input<string>): pulumi.Output<Connection> {
  return pulumi.secret(pulumi.output({ host, user, privateKey, ...(hostKey ? { hostKey } : {}) }));
}

/** Regular files under dir, as sorted POSIX paths relative to it. */
export function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const entry of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const child = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory() && entry.name !== "__pycache__") walk(child);
      else if (entry.isFile()) out.push(child);
    }
  };
  walk("");
  return out.sort();
}

export function sha256(data: string | Buffer): string {
  return crypto.createHash("sha256").update(data).digest("hex");
}

/** sha256 over the files' paths and bytes: changes when any file of the folder changes. */
export function hashFolder(dir: string): string {
  const h = crypto.createHash("sha256");
  for (const f of listFiles(dir)) h.update(`${f}\0`).update(fs.readFileSync(path.join(dir, f))).update("\0");
  return h.digest("hex");
}

export interface CopyFolderArgs {
  /** Folder on the machine running the program. */
  localDir: string;
  /** Absolute folder on the remote machine. */
  remoteDir: string;
  /** SSH connection to the remote machine. */
  connection: pulumi.Input<Connection>;
  /** SSH user: directories are made by root and handed to this user so the copy can write them. */
  sshUser: string;
  /** Remove remoteDir when the copy is deleted (content-addressed folders), or leave it (shared folders). */
  removeOnDelete: boolean;
  /** Values whose change forces the folder to be made again (e.g. the machine id). */
  triggers?: pulumi.Input<unknown>[];
  /** The machine the folder is on: the copy goes with it, without running anything there. */
  machine?: pulumi.Resource;
  /**
   * Keep the folder exactly as last applied, never reading localDir (a quarantined workshop's
   * content): every input of both resources is ignored in favour of the state's, as the engine's
   * ignoreChanges does for a resource it already has (pulumi/pulumi pkg/resource/deploy/
   * step_generator.go, generateSteps: `if hasOld { processIgnoreChanges(inputs, oldInputs, ...) }`;
   * the Node SDK sends the list as given, @pulumi/pulumi 3.248.0 runtime/resource.js
   * `setIgnorechangesList`). A folder the state never had is not conjured up: it is created empty.
   */
  keep?: boolean;
}

/** Every input of the copy's two resources: what `keep` ignores. */
const KEPT_COMMAND = ["connection", "create", "delete", "triggers", "addPreviousOutputInEnv"];
const KEPT_COPY = ["connection", "source", "remotePath", "triggers"];

/**
 * Copies a folder as two resources whatever its size: a command that makes the target folder (and
 * hands it to the SSH user, who uploads over SFTP) and one CopyToRemote of the folder. The source
 * ends with "/", so its contents land in remoteDir whether or not remoteDir already exists
 * (pulumi-command v1.2.1 provider/pkg/provider/remote/copyController.go, sftpCopy: "dir/ →
 * dest/x for x in dir"). The folder's hash is a trigger: an edit copies it again.
 */
export function copyFolder(name: string, args: CopyFolderArgs, parent: pulumi.Resource, after: pulumi.Input<pulumi.Resource>[] = []): pulumi.Resource[] {
  const dir = shellQuote(args.remoteDir);
  const mkdir = new command.remote.Command(
    `${name}-dirs`,
    {
      connection: args.connection,
      create: asRoot(args.sshUser, timeLimited(120, `sh -c ${shellQuote(`mkdir -p ${dir} && chown -R ${shellQuote(args.sshUser)} ${dir}`)}`)),
      delete: args.removeOnDelete ? asRoot(args.sshUser, timeLimited(600, `rm -rf ${dir}`)) : undefined,
      triggers: args.triggers,
      addPreviousOutputInEnv: false,
    },
    // Replaced in place (same folder: `pulumi up --replace`, a trigger edit), the old `rm -rf` must
    // run first: created before it, the replacement's folder would be wiped by it.
    { parent, dependsOn: after, deletedWith: args.machine, deleteBeforeReplace: args.removeOnDelete, ...(args.keep ? { ignoreChanges: KEPT_COMMAND } : {}) },
  );
  const copy = new command.remote.CopyToRemote(
    `${name}-copy`,
    {
      connection: args.connection,
      source: args.keep ? new pulumi.asset.AssetArchive({}) : new pulumi.asset.FileArchive(`${args.localDir.replace(/\/+$/, "")}/`),
      remotePath: args.remoteDir,
      // A new folder (the -dirs command replaced: a new id) is filled again.
      triggers: args.keep ? ["kept"] : [hashFolder(args.localDir), mkdir.id],
    },
    { parent, dependsOn: [mkdir], deletedWith: args.machine, ...(args.keep ? { ignoreChanges: KEPT_COPY } : {}) },
  );
  return [mkdir, copy];
}

/** A DigitalOcean tag: lower-case letters, digits, `:`, `_` and `-` only. */
export function doTag(value: string): string {
  return value.toLowerCase().replace(/[^a-z0-9:_-]+/g, "-").slice(0, 255);
}

/** A hostname-safe name (droplet names). */
export function hostname(value: string): string {
  return value.toLowerCase().replace(/[^a-z0-9.-]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 63);
}

/** `type base64` of an OpenSSH public key, without the comment: the key as clouds compare it. */
export function normalizeSshKey(publicKey: string): string {
  const [type, blob] = publicKey.trim().split(/\s+/);
  if (!type || !blob || !/^[A-Za-z0-9+/]+=*$/.test(blob)) throw new Error(`not an OpenSSH public key: ${publicKey.slice(0, 40)}`);
  return `${type} ${blob}`;
}

/** SHA256 fingerprint as `ssh-keygen -lf` prints it (`SHA256:…`). */
export function sshKeyFingerprint(publicKey: string): string {
  const blob = Buffer.from(normalizeSshKey(publicKey).split(" ")[1], "base64");
  return `SHA256:${crypto.createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
}
