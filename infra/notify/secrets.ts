// Where `wod notify` gets its two secrets — the SMTP password and the stack's password seed — since
// the stack file holds them encrypted (`{secure: …}`) and only the Pulumi CLI can decrypt them:
// from the environment (WOD_SMTP_PASSWORD / WOD_PASSWORD_SEED, or *_FILE naming a file, as a
// systemd credential or a Kubernetes secret mounts it), else through the Pulumi CLI (Automation
// API: the stack's config and outputs), else not at all (the mails that need it wait).
import * as fs from "node:fs";

export interface NotifySecrets {
  smtpPassword(): Promise<string | undefined>;
  passwordSeed(): Promise<string | undefined>;
}

/** WOD_SMTP_PASSWORD(_FILE) and WOD_PASSWORD_SEED(_FILE). */
export function envSecrets(env: NodeJS.ProcessEnv = process.env): NotifySecrets {
  const read = (name: string) => {
    if (env[name]) return env[name];
    const file = env[`${name}_FILE`];
    if (!file) return undefined;
    try {
      return fs.readFileSync(file, "utf8").replace(/\r?\n$/, "");
    } catch (e) {
      throw new Error(`${name}_FILE: cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
  };
  return { smtpPassword: async () => read("WOD_SMTP_PASSWORD"), passwordSeed: async () => read("WOD_PASSWORD_SEED") };
}

/** The stack's config and outputs through the Pulumi CLI (`pulumi config get --path`, `pulumi stack output`). */
export function pulumiSecrets(opts: { stack: string; workDir: string }): NotifySecrets {
  const open = async () => {
    const { LocalWorkspace } = await import("@pulumi/pulumi/automation");
    return LocalWorkspace.selectStack({ stackName: opts.stack, workDir: opts.workDir });
  };
  return {
    async smtpPassword() {
      const stack = await open();
      return (await stack.getConfig("wod:smtp.password", true)).value;
    },
    async passwordSeed() {
      const stack = await open();
      const seed = (await stack.outputs()).passwordSeed?.value;
      return typeof seed === "string" ? seed : undefined;
    },
  };
}

/** The first source that has the value; a source that fails (no CLI, not logged in) is skipped with a note. */
export function firstOf(sources: NotifySecrets[], note: (m: string) => void = () => {}): NotifySecrets {
  const pick = (get: (s: NotifySecrets) => Promise<string | undefined>, what: string) => async () => {
    for (const s of sources) {
      try {
        const v = await get(s);
        if (v) return v;
      } catch (e) {
        note(`${what}: ${(e as Error).message.split("\n")[0]}`);
      }
    }
    return undefined;
  };
  return { smtpPassword: pick((s) => s.smtpPassword(), "the SMTP password"), passwordSeed: pick((s) => s.passwordSeed(), "the password seed") };
}

/** The same secrets, each read at most once per `ms` (a running worker does not call the Pulumi CLI on every pass). */
export function cached(secrets: NotifySecrets, ms: number): NotifySecrets {
  const memo = (get: () => Promise<string | undefined>) => {
    let at = 0;
    let value: Promise<string | undefined> | undefined;
    return () => {
      if (!value || Date.now() - at > ms) {
        at = Date.now();
        value = get().catch((e) => {
          value = undefined;
          throw e;
        });
      }
      return value;
    };
  };
  return { smtpPassword: memo(() => secrets.smtpPassword()), passwordSeed: memo(() => secrets.passwordSeed()) };
}
