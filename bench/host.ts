// Benchmark: our host scripts against WoD's way, on the same throwaway test host.
//  - ours: bootstrap-backend.sh creates the slot users in one run, then the slots are activated
//    (password, home, workshop rendered as the learner, fresh hub user, server started) and
//    released (completion, bounded archive, wipe, leftovers, lock, hub user deleted) by one
//    cohort sync per wave of 50 — one SSH session, as the StudentCohort component runs it;
//  - WoD's: the compliance playbook's per-user Ansible loop (group, user, file, ACL tasks per
//    user) for as many users, with Debian's ansible over SSH.
// Run alone with `npx tsx bench/host.ts` (root; WOD_BENCH_SLOTS=200 by default).
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { WORKSHOP_DIR, bootstrap, fixtures, hubToken, newPassword, run, startTestHost, syncCohort, type TestHost } from "../test/host/testhost";

const SLOTS = Number(process.env.WOD_BENCH_SLOTS ?? 200);
const PARALLEL = 8; // slots worked on at once inside one sync (sync-cohort.py --parallel)
const WAVE = 50; // slots activated before they are released: bounds the running notebook servers

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

async function ours(host: TestHost, log: (line: string) => void) {
  const t0 = Date.now();
  const boot = await bootstrap(host, hubToken(), 1, SLOTS);
  if (boot.code !== 0) throw new Error(`bootstrap failed: ${boot.stderr}`);
  const provision = Date.now() - t0;
  log(`ours: bootstrap created ${SLOTS} slot users in ${seconds(provision)}`);
  await host.upload(join(fixtures, "WKSHP-Sample"), WORKSHOP_DIR);

  // One cohort sync per wave, as the component runs it: one SSH session, the slot table on stdin.
  const sync = async (slots: number[], flags = "") => {
    const table = Object.fromEntries(slots.map((slot) => [slot, { registration: `bench-${slot}`, password: newPassword() }]));
    const r = await syncCohort(host, table, `--parallel ${PARALLEL} ${flags}`);
    if (r.code !== 0) throw new Error(`sync of ${slots.length} slots exited ${r.code}: ${r.stderr.slice(-2000)}`);
    const summary = JSON.parse(r.stdout).summary;
    if (summary.failed || summary.releaseFailed || summary.notAttempted) throw new Error(`sync: ${JSON.stringify(summary)}\n${r.stderr.slice(-2000)}`);
  };
  let activation = 0;
  let releasing = 0;
  for (let start = 1; start <= SLOTS; start += WAVE) {
    const wave = Array.from({ length: Math.min(WAVE, SLOTS - start + 1) }, (_, i) => start + i);
    let t = Date.now();
    await sync(wave);
    activation += Date.now() - t;
    t = Date.now();
    await sync([]);
    releasing += Date.now() - t;
    log(`ours: ${wave.at(-1)}/${SLOTS} slots activated and released (${seconds(activation + releasing)} so far)`);
  }
  // WoD's way, wod:startServers: each learner's notebook server started at activation.
  const wave = Array.from({ length: Math.min(WAVE, SLOTS) }, (_, i) => i + 1);
  let t = Date.now();
  await sync(wave, "--start-servers");
  const started = Date.now() - t;
  t = Date.now();
  await sync([]);
  const stopped = Date.now() - t;
  log(`ours: ${wave.length} slots with their servers started at activation (wod:startServers): ${seconds(started)}, released with them in ${seconds(stopped)}`);
  return { provision, activation, releasing, withServers: { slots: wave.length, started, stopped } };
}

async function ansible(host: TestHost, log: (line: string) => void): Promise<number | null> {
  if ((await run("sh", ["-c", "command -v ansible-playbook"])).code !== 0) {
    log("ansible: installing Debian's ansible (apt-get)…");
    const apt = await run("sh", ["-c", "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ansible"]);
    if (apt.code !== 0) {
      log(`ansible: skipped, cannot install it: ${apt.stderr.trim().split("\n").pop()}`);
      return null;
    }
  }
  const dir = mkdtempSync(join(tmpdir(), "wod-bench-ansible."));
  writeFileSync(join(dir, "inventory"),
    `testhost ansible_host=${host.addr} ansible_user=root ansible_ssh_private_key_file=${host.dir}/key ` +
      `ansible_ssh_common_args='-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null' ansible_python_interpreter=/usr/bin/python3\n`);
  // WoD's compliance playbook shape: one task per concern, each looping over every user.
  // Other names and uids than the slots above, so both runs do the full work.
  writeFileSync(join(dir, "users.yml"), `
- hosts: testhost
  gather_facts: false
  vars:
    users: "{{ range(1, ${SLOTS} + 1) | list }}"
  tasks:
    - name: group per user
      ansible.builtin.group: { name: "ansstudent{{ item }}", gid: "{{ 5000 + item }}" }
      loop: "{{ users }}"
    - name: user
      ansible.builtin.user:
        name: "ansstudent{{ item }}"
        uid: "{{ 5000 + item }}"
        group: "ansstudent{{ item }}"
        groups: students
        home: "/ansible/ansstudent{{ item }}"
        create_home: false
        shell: /bin/bash
        password: "{{ ('pw' ~ item) | password_hash('sha512', 'benchsalt' ~ item) }}"
      loop: "{{ users }}"
    - name: home
      ansible.builtin.file: { path: "/ansible/ansstudent{{ item }}", state: directory, owner: "ansstudent{{ item }}", group: "ansstudent{{ item }}", mode: "0700" }
      loop: "{{ users }}"
    - name: ACL
      ansible.posix.acl: { path: "/ansible/ansstudent{{ item }}", entity: "ansstudent{{ item }}", etype: user, permissions: rwx, state: present }
      loop: "{{ users }}"
`);
  const t0 = Date.now();
  const code = await new Promise<number>((done) => {
    const child = spawn("ansible-playbook", ["-i", join(dir, "inventory"), join(dir, "users.yml")], {
      env: { ...process.env, ANSIBLE_HOST_KEY_CHECKING: "False", ANSIBLE_NOCOLOR: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let items = 0;
    createInterface({ input: child.stdout }).on("line", (line) => {
      if (/^(ok|changed): /.test(line) && ++items % 100 === 0) {
        log(`ansible: ${items}/${SLOTS * 4} user tasks (${seconds(Date.now() - t0)} so far)`);
      }
      if (/^(fatal|failed)/.test(line)) log(`ansible: ${line}`);
    });
    child.stderr.on("data", (d) => log(`ansible: ${String(d).trim()}`));
    child.on("close", (c) => done(c ?? 1));
  });
  if (code !== 0) throw new Error(`ansible-playbook exited ${code}`);
  return Date.now() - t0;
}

export async function benchHost(log: (line: string) => void): Promise<void> {
  log(`host: starting a test host; ${SLOTS} slots, cohort syncs of ${WAVE} slots, ${PARALLEL} slots at once inside a sync`);
  const host = await startTestHost();
  try {
    const mine = await ours(host, log);
    const theirs = await ansible(host, log);
    const total = mine.activation + mine.releasing;
    log(`host: ours, bootstrap of ${SLOTS} slot users: ${seconds(mine.provision)}`);
    const perSlot = (ms: number, n: number) => `${(ms / n).toFixed(0)} ms per slot`;
    log(`host: ours, activate ${SLOTS} slots in cohort syncs: ${seconds(mine.activation)} (${perSlot(mine.activation, SLOTS)}; servers start at the learners' first login)`);
    log(`host: ours, release ${SLOTS} slots: ${seconds(mine.releasing)} (${perSlot(mine.releasing, SLOTS)})`);
    const w = mine.withServers;
    log(`host: ours with wod:startServers (WoD's way), ${w.slots} slots: activate ${seconds(w.started)} (${perSlot(w.started, w.slots)}, the hub starting each server), release ${seconds(w.stopped)}`);
    if (theirs !== null) {
      log(`host: WoD's per-user Ansible loop (group, user, file, ACL) for ${SLOTS} users: ${seconds(theirs)}`);
      log(`host: ratio Ansible loop / our bootstrap (same account work): ${(theirs / mine.provision).toFixed(1)}x`);
      log(`host: ratio Ansible loop / our activate+release of ${SLOTS} slots (which also render, archive and clean up; target ≥ 4x): ${(theirs / total).toFixed(2)}x`);
    }
  } finally {
    await host.down();
  }
}

if (require.main === module) {
  benchHost((line) => console.log(line)).catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
