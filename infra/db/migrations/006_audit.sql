-- The audit trail (issue 19): what every command and run asked and did, and each learner's story.
--
-- audit_log: one entry per command or run (reconcile, plan, drift, register, import, cancel, …):
-- who, when, what it asked (never a secret), what it changed, its outcome and error, the Pulumi
-- update's version. Written through audit_record() only.
-- audit_events: one row per change to a registration or a student server, written by triggers in
-- the same transaction as the change, whoever makes it (a wod command, the write-back, a portal,
-- an administrator in psql). `run` links an event to the entry of the command that caused it.
--
-- Append-only for every role: triggers refuse UPDATE, DELETE and TRUNCATE (privileges alone would
-- not do: the application's role owns these tables and an owner may grant itself anything).
-- Dropping the triggers is a schema change an administrator makes on purpose, never code.
-- Neither table references registrations or learners: the trail outlives the rows it tells about.

create table audit_log (
  id              bigserial primary key,
  run             uuid not null unique,
  started_at      timestamptz not null,
  at              timestamptz not null default now(),
  -- The OS user who ran it, or --actor (a pipeline: "github:alice").
  actor           text not null check (length(actor) between 1 and 200),
  -- The database role it ran as (a read-only role's plans are recorded too, see audit_record).
  db_role         text not null default session_user,
  command         text not null check (command ~ '^[a-z][a-z-]{0,39}$'),
  -- Reconciles: schedule, watch, pipeline, operator.
  trigger         text check (trigger in ('schedule', 'watch', 'pipeline', 'operator')),
  stack           text,
  request         jsonb not null default '{}',
  changes         jsonb not null default '{}',
  outcome         text not null check (outcome ~ '^[a-z][a-z-]{0,39}$'),
  exit_code       integer,
  error           text check (length(error) <= 4000),
  pulumi_version  integer
);
create index audit_log_at on audit_log (at);
create index audit_log_command on audit_log (command, stack, at);

create table audit_events (
  id               bigserial primary key,
  at               timestamptz not null default now(),
  run              uuid,
  actor            text not null,
  registration_id  bigint,
  learner_id       bigint,
  event            text not null,
  detail           jsonb not null default '{}',
  check ((registration_id is null) <> (learner_id is null))
);
create index audit_events_registration on audit_events (registration_id, at) where registration_id is not null;
create index audit_events_learner on audit_events (learner_id, at) where learner_id is not null;
create index audit_events_run on audit_events (run) where run is not null;

create function audit_append_only() returns trigger language plpgsql as $$
begin
  raise exception 'the audit trail is append-only: % on % refused', tg_op, tg_table_name using errcode = '42501';
end $$;
create trigger audit_log_append_only before update or delete on audit_log for each row execute function audit_append_only();
create trigger audit_log_no_truncate before truncate on audit_log for each statement execute function audit_append_only();
create trigger audit_events_append_only before update or delete on audit_events for each row execute function audit_append_only();
create trigger audit_events_no_truncate before truncate on audit_events for each statement execute function audit_append_only();

-- Appends one entry. SECURITY DEFINER: a role that may only read (a pull request's preview, a
-- dashboard) still records its plans here, and can do nothing else through it; `db_role` keeps
-- who called. Revoke EXECUTE from a role to keep its runs out of the trail.
create function audit_record(entry jsonb) returns void language sql security definer set search_path from current as $$
  insert into audit_log (run, started_at, at, actor, db_role, command, trigger, stack, request, changes, outcome, exit_code, error, pulumi_version)
  values ((entry->>'run')::uuid, coalesce((entry->>'startedAt')::timestamptz, now()), clock_timestamp(),
          left(coalesce(nullif(entry->>'actor', ''), 'unknown'), 200), session_user, entry->>'command', entry->>'trigger',
          entry->>'stack', coalesce(entry->'request', '{}'), coalesce(entry->'changes', '{}'), entry->>'outcome',
          (entry->>'exitCode')::int, left(entry->>'error', 4000), (entry->>'pulumiVersion')::int);
$$;

-- Who is changing things in this transaction: set by wod with set_config('wod.run' / 'wod.actor',
-- …, true); anyone else is named by their database role.
create function audit_actor() returns text language sql stable as $$
  select coalesce(nullif(current_setting('wod.actor', true), ''), 'database role ' || session_user);
$$;
create function audit_run() returns uuid language sql stable as $$
  select nullif(current_setting('wod.run', true), '')::uuid;
$$;

create function audit_event(p_registration bigint, p_learner bigint, p_event text, p_detail jsonb) returns void
language sql security definer set search_path from current as $$
  insert into audit_events (run, actor, registration_id, learner_id, event, detail)
  values (audit_run(), audit_actor(), p_registration, p_learner, p_event, jsonb_strip_nulls(p_detail));
$$;

-- A registration's story. Never its password.
create function audit_registration() returns trigger language plpgsql security definer set search_path from current as $$
begin
  if tg_op = 'INSERT' then
    perform audit_event(new.id, null, 'registered', jsonb_build_object(
      'email', (select email from participants where id = new.participant_id), 'workshop', new.workshop,
      'location', new.location, 'slot', new.slot, 'startsAt', new.starts_at, 'endsAt', new.ends_at, 'status', new.status));
    return null;
  end if;
  if new.status is distinct from old.status then
    if new.status = 'active' then
      perform audit_event(new.id, null, 'activated', jsonb_build_object('username', new.username, 'hubUrl', new.hub_url));
    elsif new.status = 'failed' then
      perform audit_event(new.id, null, 'failed', jsonb_build_object('reason', new.failure_reason));
    elsif new.status = 'cancelled' then
      perform audit_event(new.id, null, 'cancelled', '{}');
    elsif new.status <> 'released' then
      perform audit_event(new.id, null, 'status', jsonb_build_object('from', old.status, 'to', new.status));
    end if;
  end if;
  if new.released_at is not null and old.released_at is null then
    perform audit_event(new.id, null, 'released', jsonb_build_object('completion', new.completion, 'status', new.status));
  elsif new.completion is distinct from old.completion then
    perform audit_event(new.id, null, 'completion', jsonb_build_object('completion', new.completion));
  end if;
  if new.ends_at is distinct from old.ends_at then
    perform audit_event(new.id, null, 'extended', jsonb_build_object('from', old.ends_at, 'to', new.ends_at));
  end if;
  if new.generation is distinct from old.generation then
    perform audit_event(new.id, null, 'reset', jsonb_build_object('generation', new.generation));
  end if;
  if new.release_attempts > old.release_attempts then
    perform audit_event(new.id, null, 'release-failed', jsonb_build_object('attempts', new.release_attempts, 'error', new.release_error));
  end if;
  if (new.location, new.slot) is distinct from (old.location, old.slot) then
    perform audit_event(new.id, null, 'moved', jsonb_build_object('from', old.location || '/' || old.slot, 'to', new.location || '/' || new.slot));
  end if;
  return null;
end $$;
create trigger registrations_audit after insert or update on registrations for each row execute function audit_registration();

-- A student server's story (logins are not events: `wod status` shows the last one).
create function audit_student_server() returns trigger language plpgsql security definer set search_path from current as $$
begin
  if tg_op = 'INSERT' then
    perform audit_event(null, new.learner_id, 'server-up', jsonb_build_object('ipv4', host(new.ipv4), 'region', new.region, 'dropletId', new.droplet_id));
    return null;
  elsif tg_op = 'DELETE' then
    perform audit_event(null, old.learner_id, 'server-restored', jsonb_build_object('removedAt', old.removed_at));
    return null;
  end if;
  if new.ipv4 is not null and new.ipv4 is distinct from old.ipv4 then
    perform audit_event(null, new.learner_id, 'server-address', jsonb_build_object('ipv4', host(new.ipv4), 'dropletId', new.droplet_id));
  end if;
  if new.warned_at is not null and new.warned_at is distinct from old.warned_at then
    perform audit_event(null, new.learner_id, 'server-warned', jsonb_build_object('lastSshAt', new.last_ssh_at));
  end if;
  if new.extended_until is distinct from old.extended_until then
    perform audit_event(null, new.learner_id, 'server-extended', jsonb_build_object('until', new.extended_until));
  end if;
  if new.revoked_at is not null and old.revoked_at is null then
    perform audit_event(null, new.learner_id, 'server-revoked', '{}');
  end if;
  if new.snapshot_id is distinct from old.snapshot_id and new.snapshot_id is not null then
    perform audit_event(null, new.learner_id, 'server-snapshot', jsonb_build_object('snapshotId', new.snapshot_id));
  end if;
  if new.removed_at is not null and old.removed_at is null then
    perform audit_event(null, new.learner_id, 'server-removed', jsonb_build_object('reason', new.removal_reason, 'snapshotId', new.snapshot_id));
  end if;
  return null;
end $$;
create trigger student_servers_audit after insert or update or delete on student_servers for each row execute function audit_student_server();

-- The hub's last sign of a learner, read by the reconcile when it reads the machines ("never
-- logged in" is a question operators ask).
alter table registrations add column last_login_at timestamptz;
