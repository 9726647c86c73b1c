-- Accounts as cohorts (issue 11) and releases that can fail and be retried (issue 8).
-- generation: an operator's reset of one learner (`wod reset <id>`) bumps it; the host then
-- releases the slot's current activation (archive included) and activates it afresh.
alter table registrations add column generation integer not null default 1 check (generation >= 1);
-- A release the backend reported as failed: counted, so the next run retries it (the count is
-- part of the cohort's inputs), with the host's message for the operator.
alter table registrations add column release_attempts integer not null default 0;
alter table registrations add column release_error text;

-- Student servers: the droplet as the stack holds it, and the snapshot taken before removal.
alter table student_servers add column snapshot_id text;
alter table student_servers add column snapshot_at timestamptz;
