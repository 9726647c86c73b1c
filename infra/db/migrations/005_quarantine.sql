-- Quarantined workshops (issue 17): a workshop whose folder, wod.yml or templates have errors of
-- their own. The catalog sync writes one row per quarantined workshop and deletes it once the
-- workshop is fixed; while it lasts, the workshop's `workshops` row keeps what the last good sync
-- wrote (the program declares the workshop from it) and `register` refuses it with `reason`.
-- No reference to workshops: a workshop that was never good has no row there.
create table quarantined_workshops (
  name       text primary key,
  folder     text not null,
  -- as its wod.yml says (true when that cannot be read): an active one fails `wod plan`
  active     boolean not null,
  -- how many errors and the first, in one line; `wod plan` lists them all
  reason     text not null,
  errors     text[] not null check (cardinality(errors) > 0),
  since      timestamptz not null default now(),
  synced_at  timestamptz not null default now()
);
