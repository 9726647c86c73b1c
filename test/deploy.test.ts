// The deployment manifests an operator applies as they are: the write-back job can read the
// machines, the operator's stacks do not hammer the cloud API and have room to run, and the
// GitOps workflow may comment its preview and addresses stacks by their full name.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { parse, parseAllDocuments } from "yaml";
import { ROOT } from "../infra/load";

const docs = (file: string) => parseAllDocuments(fs.readFileSync(path.join(ROOT, file), "utf8")).map((d) => d.toJS());
const stacks = docs("deploy/pulumi-operator/stacks.yaml").filter((d) => d.kind === "Stack");
const cronJob = docs("deploy/pulumi-operator/writeback-cronjob.yaml").find((d) => d.kind === "CronJob");
const container = cronJob.spec.jobTemplate.spec.template.spec.containers[0];
const workflow = parse(fs.readFileSync(path.join(ROOT, ".github/workflows/wod.yml"), "utf8"));

const bytes = (q: string) => {
  const m = /^(\d+(?:\.\d+)?)(Mi|Gi)$/.exec(q);
  return m ? Number(m[1]) * (m[2] === "Gi" ? 1024 : 1) * 2 ** 20 : NaN;
};

describe("the write-back CronJob", () => {
  /** The job's script up to the clone: what must hold before it reads any machine. */
  const preflight = (): string => {
    const script: string = container.command[2];
    return script.slice(0, script.indexOf("git clone"));
  };

  /** Runs the preflight with PATH holding only a stand-in apt-get that installs (or fails to install) ssh and git. */
  const runPreflight = (aptWorks: boolean) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "wod-preflight-"));
    try {
      const bin = path.join(dir, "bin");
      fs.mkdirSync(bin);
      const install = `for c in ssh git; do printf '#!/bin/sh\\n' > "${bin}/$c"; /bin/chmod +x "${bin}/$c"; done`;
      fs.writeFileSync(path.join(bin, "apt-get"), `#!/bin/bash\necho "$*" >> "${dir}/apt.log"\n${aptWorks ? `[ "$1" = install ] && { ${install}; }` : "exit 100"}\nexit 0\n`, { mode: 0o755 });
      const r = spawnSync("/bin/bash", ["-ec", preflight()], { env: { PATH: bin } });
      return { code: r.status, apt: fs.existsSync(path.join(dir, "apt.log")) ? fs.readFileSync(path.join(dir, "apt.log"), "utf8") : "" };
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  };

  it("installs an ssh client when the image has none, and stops before the write-back when it cannot", () => {
    const ok = runPreflight(true);
    expect(ok.code).toBe(0);
    expect(ok.apt).toMatch(/install .*openssh-client/);
    expect(runPreflight(false).code).not.toBe(0);
  });

  it("runs the write-back through the bin with the key the machines accept, on the same Pulumi stack as the operator", () => {
    expect(container.command[2]).toMatch(/npx wod reconcile --stack prod --write-back-only/);
    const env = Object.fromEntries(container.env.map((e: { name: string; value?: string }) => [e.name, e.value]));
    expect(env.WOD_PULUMI_STACK).toBe(stacks.find((s) => s.metadata.name === "wod-prod").spec.stack);
    expect(env.WOD_SSH_KEY_FILE).toBe(`${container.volumeMounts[0].mountPath}/id`);
    expect(container.image).toMatch(/^pulumi\/pulumi-nodejs:\d+\.\d+\.\d+$/);
    const sdk = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")).dependencies["@pulumi/pulumi"];
    expect(container.image.split(":")[1]).toBe(sdk);
  });

  it("removes the student servers the operator's updates stop declaring: it has the DigitalOcean token", () => {
    const token = container.env.find((e: { name: string }) => e.name === "DIGITALOCEAN_TOKEN");
    expect(token?.valueFrom?.secretKeyRef).toEqual({ name: "wod-secrets", key: "digitaloceanToken" });
  });
});

describe("the operator's Stacks", () => {
  it("never refresh every resource on each 5-minute resync, and name their Pulumi stack in full", () => {
    expect(stacks.length).toBeGreaterThan(0);
    for (const s of stacks) {
      expect(s.spec.refresh, s.metadata.name).toBe(false);
      expect(s.spec.stack).toMatch(/^[^/]+\/wod\/[^/]+$/);
    }
  });

  it("hand the program the platform's SSH key as the secret stack config it requires, from the cluster's secret", () => {
    for (const s of stacks) expect(s.spec.secretsRef["wod:sshPrivateKey"]).toEqual({ type: "Secret", secret: { name: "wod-secrets", key: "sshPrivateKey" } });
  });

  it("give the workspace pod the memory the program needs (the default is 64 Mi)", () => {
    for (const s of stacks) {
      const resources = s.spec.workspaceTemplate.spec.resources;
      expect(bytes(resources.requests.memory), s.metadata.name).toBeGreaterThanOrEqual(1024 * 2 ** 20);
      expect(bytes(resources.limits.memory)).toBeGreaterThanOrEqual(bytes(resources.requests.memory));
    }
  });
});

describe("the GitOps workflow", () => {
  it("lets the preview job comment on the pull request, and nothing more than reading elsewhere", () => {
    expect(workflow.permissions).toEqual({ contents: "read" });
    expect(workflow.jobs.preview.permissions).toEqual({ contents: "read", "pull-requests": "write" });
    const step = workflow.jobs.preview.steps.find((s: { uses?: string }) => s.uses?.startsWith("pulumi/actions"));
    expect(step.with["comment-on-pr"]).toBe(true);
    expect(step.with["stack-name"]).toBe("${{ vars.PULUMI_ORG }}/wod/${{ matrix.stack }}");
  });

  it("writes the plan artifact with the bin (pure JSON) and gives the reconcile the Pulumi organization", () => {
    const planStep = workflow.jobs.plan.steps.find((s: { run?: string }) => /plan\.json/.test(s.run ?? ""));
    expect(planStep.run).toMatch(/^npx wod plan --json > plan\.json$/);
    expect(workflow.jobs.reconcile.env.WOD_PULUMI_ORG).toBe("${{ vars.PULUMI_ORG }}");
  });
});

describe("the e-mail worker", () => {
  const deployment = docs("deploy/pulumi-operator/notify-deployment.yaml").find((d) => d.kind === "Deployment");
  const unit = fs.readFileSync(path.join(ROOT, "deploy/systemd/wod-notify.service"), "utf8");
  const directives = (name: string) => unit.split("\n").filter((l) => l.startsWith(`${name}=`)).map((l) => l.slice(name.length + 1));

  it("the Deployment keeps one long-running worker (no --once) on the platform database, its secrets from the cluster's secrets only", () => {
    const c = deployment.spec.template.spec.containers[0];
    const script: string = c.command[2];
    expect(script.trim().split("\n").pop()).toMatch(/^exec npx wod notify --stack prod$/);
    expect(deployment.spec.replicas).toBeGreaterThanOrEqual(1);
    const env = Object.fromEntries(c.env.map((e: { name: string }) => [e.name, e]));
    for (const name of ["DATABASE_URL", "WOD_SMTP_PASSWORD", "WOD_PASSWORD_SEED"]) {
      expect(env[name].value, name).toBeUndefined();
      expect(env[name].valueFrom.secretKeyRef, name).toBeDefined();
    }
    const sdk = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")).dependencies["@pulumi/pulumi"];
    expect(c.image).toBe(`pulumi/pulumi-nodejs:${sdk}`);
    expect(deployment.spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(60);
  });

  it("the systemd unit restarts the worker, runs it unprivileged, and hands it the secrets as credentials files, never as values", () => {
    expect(directives("ExecStart")).toEqual(["/usr/bin/npx wod notify --stack prod"]);
    expect(directives("Restart")).toEqual(["always"]);
    expect(directives("User")).toEqual(["wod"]);
    expect(directives("LoadCredential").map((l) => l.split(":")[0]).sort()).toEqual(["password-seed", "smtp-password"]);
    expect(directives("Environment").sort()).toEqual(["WOD_PASSWORD_SEED_FILE=%d/password-seed", "WOD_SMTP_PASSWORD_FILE=%d/smtp-password"]);
    expect(unit).not.toMatch(/^Environment=WOD_(SMTP_PASSWORD|PASSWORD_SEED)=/m);
  });
});
