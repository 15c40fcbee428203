-- Who works a lead: the queue it waits in (the SLA policy's, or where a reroute sent it) and the owner
-- the CRM's last verdict named.
ALTER TABLE crm_leads ADD COLUMN owner text, ADD COLUMN queue text;
CREATE INDEX crm_leads_queue_idx ON crm_leads (queue) WHERE owner IS NULL;

-- When the activity row was written (not when its transaction began): the end of the end-to-end latency.
ALTER TABLE crm_lead_activities ALTER COLUMN inserted_at SET DEFAULT clock_timestamp();

-- Verdicts written by a CRM that works on this database; the sink publishes each new row to
-- leadflow.crm-feedback (woken by NOTIFY, with a periodic sweep) and marks it.
CREATE TABLE crm_feedback (
    id           bigserial PRIMARY KEY,
    prospect_id  text,
    email        text,
    verdict      text NOT NULL CHECK (verdict IN ('accepted', 'contacted', 'disqualified', 'won', 'lost')),
    deal_value   numeric CHECK (deal_value >= 0),
    reason       text,
    owner        text,
    occurred_at  timestamptz NOT NULL DEFAULT now(),
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz,                    -- when the sink handed it to leadflow (or refused it)
    event_id     text,                           -- the CrmFeedback event id it was published as
    error        text,                           -- why it was refused, when it was
    CHECK (prospect_id IS NOT NULL OR email IS NOT NULL)
);
CREATE INDEX crm_feedback_pending_idx ON crm_feedback (id) WHERE published_at IS NULL;

CREATE FUNCTION leadflow_crm_feedback_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('leadflow_crm_feedback', NEW.id::text);
    RETURN NEW;
END $$;
CREATE TRIGGER crm_feedback_notify AFTER INSERT ON crm_feedback
    FOR EACH ROW EXECUTE FUNCTION leadflow_crm_feedback_notify();
