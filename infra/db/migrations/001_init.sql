-- Locations (backends) as the stack config declares them; synced by the program.
create table locations (
  name        text primary key,
  slot_min    integer not null check (slot_min >= 1),
  slot_max    integer not null check (slot_max >= slot_min),
  hub_url     text,
  synced_at   timestamptz not null default now()
);

-- Workshops as the catalog declares them. Seats in use are counted from registrations,
-- never stored, so they cannot drift as WoD's capacity counter does.
create table workshops (
  name            text primary key,
  folder          text not null,
  active          boolean not null,
  in_catalog      boolean not null default true,
  capacity        integer not null check (capacity >= 0),
  range_min       integer not null check (range_min >= 1),
  range_max       integer not null check (range_max >= range_min),
  duration_hours  numeric not null check (duration_hours > 0),
  locations       text[] not null,
  reset           boolean not null default false,
  content_hash    text not null,
  catalog         jsonb not null,
  synced_at       timestamptz not null default now()
);

create table participants (
  id          bigserial primary key,
  email       text not null unique check (email = lower(email) and email like '%_@_%'),
  name        text not null default '',
  created_at  timestamptz not null default now()
);

-- A participant's booking of one slot of one workshop on one location.
-- Live = pending (waiting for the next reconcile) or active (credentials written back).
create table registrations (
  id              bigserial primary key,
  participant_id  bigint not null references participants(id),
  workshop        text not null references workshops(name),
  location        text not null references locations(name),
  slot            integer not null check (slot >= 1),
  status          text not null default 'pending'
                  check (status in ('pending', 'active', 'failed', 'released', 'cancelled')),
  starts_at       timestamptz not null default now(),
  ends_at         timestamptz not null,
  -- written back after a successful up, for the credentials e-mail
  username        text,
  password        text,
  hub_url         text,
  completion      numeric check (completion between 0 and 1),
  failure_reason  text,
  released_at     timestamptz,
  created_at      timestamptz not null default now(),
  updated_at      timestamptz not null default now(),
  check (ends_at > starts_at)
);

-- The database itself guarantees one slot is never held by two live registrations,
-- and one participant holds at most one live seat per workshop.
create unique index registrations_live_slot on registrations (location, slot)
  where status in ('pending', 'active');
create unique index registrations_live_participant on registrations (participant_id, workshop)
  where status in ('pending', 'active');
create index registrations_status on registrations (status, ends_at);

-- Learners of the long-lived platform, who may earn a personal student server.
create table learners (
  id              bigserial primary key,
  email           text not null unique check (email = lower(email) and email like '%_@_%'),
  ssh_public_key  text,
  region          text,
  created_at      timestamptz not null default now()
);

-- Lesson progress: a lesson is passed when passed_at is set.
create table lesson_progress (
  learner_id  bigint not null references learners(id) on delete cascade,
  lesson      text not null,
  passed_at   timestamptz,
  primary key (learner_id, lesson)
);

-- A learner's droplet as last applied, and its idleness bookkeeping.
create table student_servers (
  learner_id      bigint primary key references learners(id) on delete cascade,
  droplet_id      text,
  ipv4            inet,
  region          text not null,
  created_at      timestamptz not null default now(),
  last_ssh_at     timestamptz,
  warned_at       timestamptz,
  extended_until  timestamptz,
  revoked_at      timestamptz,
  removed_at      timestamptz,
  removal_reason  text
);

create view workshop_seats as
  select w.name as workshop, l as location, w.capacity,
         (select count(*) from registrations r
           where r.workshop = w.name and r.location = l and r.status in ('pending', 'active'))::int as in_use
    from workshops w, unnest(w.locations) as l;
