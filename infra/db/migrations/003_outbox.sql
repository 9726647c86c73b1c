-- Learners are told (issue 15): a transactional outbox, fed by triggers, so every change a learner
-- must hear about records its message in the same transaction, whoever writes it (the write-back,
-- an operator command, an import, an expiry, another application). `wod notify` sends them.

-- No learner password at rest: the password is derived when the credentials mail is sent, from the
-- stack's password seed and the registration id (components/passwords.ts). The database keeps only
-- which seed the learner's password came from (an HMAC of the seed, never the seed itself).
alter table registrations drop column password;
alter table registrations add column password_seed_id text;

create table outbox (
  id               bigserial primary key,
  kind             text not null check (kind in (
                     'registration-accepted', 'credentials-ready', 'activation-failed', 'registration-cancelled',
                     'registration-reset', 'ending-soon', 'workshop-ended',
                     'server-granted', 'server-idle-warning', 'server-removed')),
  -- One message per event: (kind, registration or learner, version). A re-run of the same change
  -- adds nothing.
  dedupe_key       text not null unique,
  registration_id  bigint references registrations(id) on delete cascade,
  learner_id       bigint references learners(id) on delete cascade,
  recipient        text not null,
  recipient_name   text not null default '',
  -- What the texts need, as the change left it (never a password).
  facts            jsonb not null default '{}',
  -- When it becomes due. ending-soon: the registration's end; the lead time (stack config) is
  -- applied when sending, so a changed lead time applies to waiting reminders too.
  due_at           timestamptz not null default now(),
  state            text not null default 'due'
                   check (state in ('due', 'failing', 'sent', 'undeliverable', 'given-up', 'skipped')),
  attempts         integer not null default 0,
  -- failing: the next try.
  retry_at         timestamptz,
  -- Why the last try failed, why it was given up or skipped.
  last_error       text,
  -- Stable across retries and repeats (set at the first try).
  message_id       text,
  -- A worker's claim; a crashed worker's claim expires, and another worker takes the message.
  lease_owner      text,
  lease_until      timestamptz,
  created_at       timestamptz not null default now(),
  sent_at          timestamptz,
  check ((registration_id is null) <> (learner_id is null))
);
-- The worker's scan touches only messages still waiting.
create index outbox_waiting on outbox (due_at, id) where state in ('due', 'failing');
create index outbox_registration on outbox (registration_id) where registration_id is not null;
create index outbox_learner on outbox (learner_id) where learner_id is not null;
create index outbox_recipient on outbox (recipient);

-- Adds one message; the same event twice is one message.
create function outbox_add(p_kind text, p_key text, p_registration bigint, p_learner bigint, p_recipient text, p_name text,
                           p_facts jsonb, p_due timestamptz) returns void language sql as $$
  insert into outbox (kind, dedupe_key, registration_id, learner_id, recipient, recipient_name, facts, due_at)
  values (p_kind, p_key, p_registration, p_learner, p_recipient, left(coalesce(p_name, ''), 200), p_facts, p_due)
  on conflict (dedupe_key) do nothing;
$$;

-- Waiting messages of these kinds that no longer apply (an end that moved, a registration that ended).
create function outbox_skip(p_registration bigint, p_learner bigint, p_kinds text[], p_keep text, p_reason text) returns void language sql as $$
  update outbox set state = 'skipped', last_error = p_reason, retry_at = null, lease_owner = null, lease_until = null
   where state in ('due', 'failing') and kind = any(p_kinds) and dedupe_key is distinct from p_keep
     and ((p_registration is not null and registration_id = p_registration) or (p_learner is not null and learner_id = p_learner));
$$;

create function outbox_ms(t timestamptz) returns text language sql immutable as $$
  select (extract(epoch from t) * 1000)::bigint::text;
$$;

create function registrations_outbox() returns trigger language plpgsql as $$
declare
  p record;
  f jsonb;
  was text := case when tg_op = 'INSERT' then null else old.status end;
  live boolean := new.status in ('pending', 'active');
  key text;
begin
  select email, name into p from participants where id = new.participant_id;
  f := jsonb_build_object(
    'workshop', new.workshop, 'location', new.location, 'slot', new.slot, 'startsAt', new.starts_at, 'endsAt', new.ends_at,
    'generation', new.generation, 'username', new.username, 'hubUrl', new.hub_url, 'completion', new.completion);

  if tg_op = 'INSERT' then
    perform outbox_add('registration-accepted', 'registration-accepted:' || new.id, new.id, null, p.email, p.name, f, now());
  end if;

  if new.status = 'active' and new.username is not null and new.hub_url is not null
     and (was is distinct from 'active' or (old.username, old.hub_url, old.password_seed_id) is distinct from (new.username, new.hub_url, new.password_seed_id)) then
    key := 'credentials-ready:' || new.id || ':' || left(md5(concat_ws('|', new.username, new.hub_url, new.password_seed_id)), 12);
    perform outbox_skip(new.id, null, array['credentials-ready'], key, 'superseded: newer credentials');
    perform outbox_add('credentials-ready', key, new.id, null, p.email, p.name, f || jsonb_build_object('passwordSeedId', new.password_seed_id), now());
  end if;

  if live and (tg_op = 'INSERT' or old.ends_at is distinct from new.ends_at) then
    key := 'ending-soon:' || new.id || ':' || outbox_ms(new.ends_at);
    perform outbox_skip(new.id, null, array['ending-soon'], key, 'superseded: the end moved to ' || new.ends_at);
    perform outbox_add('ending-soon', key, new.id, null, p.email, p.name, f, new.ends_at);
  end if;

  if tg_op = 'UPDATE' and live and new.generation > old.generation then
    perform outbox_add('registration-reset', 'registration-reset:' || new.id || ':' || new.generation, new.id, null, p.email, p.name, f, now());
  end if;

  if not live and was is distinct from new.status then
    perform outbox_skip(new.id, null, array['credentials-ready', 'ending-soon', 'registration-reset'], null, 'the registration is ' || new.status);
    if new.status = 'failed' then
      perform outbox_add('activation-failed', 'activation-failed:' || new.id, new.id, null, p.email, p.name, f, now());
    elsif new.status = 'cancelled' then
      perform outbox_add('registration-cancelled', 'registration-cancelled:' || new.id, new.id, null, p.email, p.name, f, now());
    elsif new.status = 'released' and was = 'active' then
      perform outbox_add('workshop-ended', 'workshop-ended:' || new.id, new.id, null, p.email, p.name, f, now());
    end if;
  end if;

  -- The completion ratio arrives with the release, after it in the same write-back: the final mail
  -- (if still waiting) carries it.
  if tg_op = 'UPDATE' and new.completion is distinct from old.completion then
    update outbox set facts = facts || jsonb_build_object('completion', new.completion)
     where dedupe_key = 'workshop-ended:' || new.id and state in ('due', 'failing');
  end if;
  return null;
end $$;

create trigger registrations_outbox after insert or update on registrations
  for each row execute function registrations_outbox();

create function student_servers_outbox() returns trigger language plpgsql as $$
declare
  l record;
  f jsonb;
  key text;
begin
  select email into l from learners where id = new.learner_id;
  f := jsonb_build_object(
    'ipv4', host(coalesce(new.ipv4, case when tg_op = 'UPDATE' then old.ipv4 end)), 'region', new.region, 'dropletId', new.droplet_id,
    'warnedAt', new.warned_at, 'extendedUntil', new.extended_until, 'removedAt', new.removed_at, 'removalReason', new.removal_reason,
    'snapshotId', new.snapshot_id);

  if new.ipv4 is not null and new.removed_at is null
     and (tg_op = 'INSERT' or (old.ipv4, old.droplet_id) is distinct from (new.ipv4, new.droplet_id)) then
    key := 'server-granted:' || new.learner_id || ':' || coalesce(new.droplet_id, '') || ':' || host(new.ipv4);
    perform outbox_add('server-granted', key, null, new.learner_id, l.email, '', f, now());
  end if;

  if new.removed_at is null and (tg_op = 'INSERT' or old.warned_at is distinct from new.warned_at) then
    if new.warned_at is not null then
      key := 'server-idle-warning:' || new.learner_id || ':' || outbox_ms(new.warned_at);
      perform outbox_skip(null, new.learner_id, array['server-idle-warning'], key, 'superseded: a newer warning');
      perform outbox_add('server-idle-warning', key, null, new.learner_id, l.email, '', f, now());
    elsif tg_op = 'UPDATE' then
      perform outbox_skip(null, new.learner_id, array['server-idle-warning'], null, 'the warning was lifted (a login or an extension)');
    end if;
  end if;

  if new.removed_at is not null and (tg_op = 'INSERT' or old.removed_at is null) then
    perform outbox_skip(null, new.learner_id, array['server-granted', 'server-idle-warning'], null, 'the server was removed');
    perform outbox_add('server-removed', 'server-removed:' || new.learner_id || ':' || outbox_ms(new.removed_at), null, new.learner_id, l.email, '', f, now());
  end if;
  return null;
end $$;

create trigger student_servers_outbox after insert or update on student_servers
  for each row execute function student_servers_outbox();

-- Wakes a waiting `wod notify` (LISTEN wod_outbox): one notification per statement, however many rows.
create function outbox_wake() returns trigger language plpgsql as $$
begin
  perform pg_notify('wod_outbox', '');
  return null;
end $$;

create trigger outbox_wake after insert on outbox for each statement execute function outbox_wake();
