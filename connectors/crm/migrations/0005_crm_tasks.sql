-- Tasks for sales, written by the action delivery (`leadflow actions`): an automation's crm_task, a notify
-- that has no chat webhook to go to, an SLA escalation's notify. No foreign key to crm_leads:
-- a task may arrive before its lead's row (the sink writes that), or be about a prospect that is no lead.
-- The CRM works the rows and closes them:
--   UPDATE crm_tasks SET status = 'done', done_at = now() WHERE id = '...';
-- leadflow never reopens nor changes a task once it is done or cancelled.
CREATE TABLE crm_tasks (
    id             text PRIMARY KEY,             -- the action id: a redelivered or replayed action is the same task
    prospect_id    text NOT NULL,
    kind           text NOT NULL,                -- task, notification or sla_escalation
    assignee       text NOT NULL,                -- as named: owner, queue:<q>, person:<email>, channel:#<c>
    owner          text,                         -- who must act (a person, or the lead's owner when written)
    queue          text,                         -- or where it waits for someone
    title          text NOT NULL,
    details        text NOT NULL DEFAULT '',     -- why, and who the prospect is
    due_at         timestamptz,
    status         text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'done', 'cancelled')),
    source         text NOT NULL DEFAULT '',     -- what made it: "automation <id>", "program <id>", "sla <id>"
    cause_event_id text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    done_at        timestamptz
);
CREATE INDEX crm_tasks_owner_idx ON crm_tasks (owner, status, due_at);
CREATE INDEX crm_tasks_queue_idx ON crm_tasks (queue, status, due_at);
CREATE INDEX crm_tasks_prospect_idx ON crm_tasks (prospect_id);

-- A CRM that only sets the status still gets the time it was done (and updated_at moves on every change).
CREATE FUNCTION leadflow_crm_tasks_touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status = 'done' AND OLD.status <> 'done' AND NEW.done_at IS NULL THEN
        NEW.done_at := now();
    END IF;
    NEW.updated_at := now();
    RETURN NEW;
END $$;
CREATE TRIGGER crm_tasks_touch BEFORE UPDATE ON crm_tasks
    FOR EACH ROW EXECUTE FUNCTION leadflow_crm_tasks_touch();
