// A workshop folder shipped to one machine at /opt/wod/workshops/<folder>/<contentHash>/.
// Content-addressed: editing one notebook changes this workshop's hash, so only this workshop's
// copy (and the accounts rendered from it) change; the old copy is removed after the new one is used.
// A quarantined workshop's content is kept: declared as last applied, its folder never read.
import * as fs from "node:fs";
import * as pulumi from "@pulumi/pulumi";
import type { DesiredContent } from "../infra/desired/types";
import { Connection, WORKSHOPS_DIR, copyFolder } from "./remote";

export const WORKSHOP_CONTENT = "wod:index:WorkshopContent";

export interface WorkshopContentArgs {
  /** The workshop folder, its hash and the location it ships to. */
  content: DesiredContent;
  /** SSH connection to the machine (secret: holds the private key). */
  connection: pulumi.Input<Connection>;
  /** SSH user of the connection. */
  sshUser: string;
  /** Resources to wait for before copying (the machine's bootstrap). */
  after?: pulumi.Input<pulumi.Resource>[];
  /** The machine it is copied to: the copy goes with it. */
  machine?: pulumi.Resource;
}

/** Where a workshop's content lives on a machine. */
export function workshopDir(folder: string, contentHash: string): string {
  return `${WORKSHOPS_DIR}/${folder}/${contentHash}`;
}

export class WorkshopContent extends pulumi.ComponentResource {
  /** Remote folder holding this exact content. */
  public readonly remoteDir: string;
  /** Hash the folder is addressed by. */
  public readonly contentHash: string;

  constructor(name: string, args: WorkshopContentArgs, opts?: pulumi.ComponentResourceOptions) {
    super(WORKSHOP_CONTENT, name, {}, opts);
    const c = args.content;
    // Both end up in an `rm -rf` path: accept only plain names.
    if (!/^WKSHP-[A-Za-z0-9_.-]+$/.test(c.folder)) throw new pulumi.ResourceError(`folder: "${c.folder}" is not a WKSHP-<Name> folder name`, this);
    if (!/^[A-Za-z0-9_-]{8,}$/.test(c.contentHash)) throw new pulumi.ResourceError(`contentHash: "${c.contentHash}" of ${c.folder} is not a hash`, this);
    // A kept (quarantined) workshop's folder is never read: the machine keeps what it has.
    if (!c.kept && !fs.statSync(c.dir, { throwIfNoEntry: false })?.isDirectory()) throw new pulumi.ResourceError(`dir: ${c.dir} of ${c.folder} is not a folder`, this);

    this.contentHash = c.contentHash;
    this.remoteDir = workshopDir(c.folder, c.contentHash);
    copyFolder(
      name,
      {
        localDir: c.dir,
        remoteDir: this.remoteDir,
        connection: args.connection,
        sshUser: args.sshUser,
        removeOnDelete: true,
        // A new hash is a new folder: replace (create the new one, delete the old one last).
        triggers: [c.contentHash],
        machine: args.machine,
        keep: c.kept,
      },
      this,
      args.after,
    );
    this.registerOutputs({ remoteDir: this.remoteDir, contentHash: this.contentHash });
  }
}
