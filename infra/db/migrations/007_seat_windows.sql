-- Seats are taken for a time window (issue 20): a live registration holds its slot, and its
-- learner's seat of that workshop, from starts_at to ends_at only, so bookings whose windows do
-- not overlap never block each other (a week of 4-hour sessions reuses slots 1-20 every session).
-- The database still guarantees that one slot is never held by two live registrations at the same
-- time, and that a learner never holds two overlapping seats of one workshop: exclusion
-- constraints on the half-open range [starts_at, ends_at), so one session may end exactly when the
-- next begins. `=` on text and integer inside a GiST index needs btree_gist (a trusted extension,
-- shipped with PostgreSQL's contrib: the database owner may create it).
create extension if not exists btree_gist;

drop index registrations_live_slot;
drop index registrations_live_participant;
alter table registrations add constraint registrations_live_slot
  exclude using gist (location with =, slot with =, tstzrange(starts_at, ends_at) with &&)
  where (status in ('pending', 'active'));
alter table registrations add constraint registrations_live_participant
  exclude using gist (participant_id with =, workshop with =, tstzrange(starts_at, ends_at) with &&)
  where (status in ('pending', 'active'));

-- Seats in use now (a portal's figure): live registrations whose window holds this moment.
create or replace view workshop_seats as
  select w.name as workshop, l as location, w.capacity,
         (select count(*) from registrations r
           where r.workshop = w.name and r.location = l and r.status in ('pending', 'active')
             and tstzrange(r.starts_at, r.ends_at) @> now())::int as in_use
    from workshops w, unnest(w.locations) as l;

-- `wod server-restore` gives a removed learner a new server without losing the old one's record
-- (above all its snapshot, the learner's files): the removed row moves here.
create table student_server_history (
  id              bigserial primary key,
  learner_id      bigint not null references learners(id) on delete cascade,
  droplet_id      text,
  ipv4            inet,
  region          text not null,
  created_at      timestamptz not null,
  last_ssh_at     timestamptz,
  warned_at       timestamptz,
  extended_until  timestamptz,
  revoked_at      timestamptz,
  removed_at      timestamptz,
  removal_reason  text,
  snapshot_id     text,
  snapshot_at     timestamptz,
  restored_at     timestamptz not null default now()
);
create index student_server_history_learner on student_server_history (learner_id);
