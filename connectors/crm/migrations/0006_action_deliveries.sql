-- The action delivery's log (`leadflow actions`): one row per action id, so a redelivered action is never
-- sent again, actions due later wait here durably, and the weekly email cap is counted at send time.
CREATE TABLE action_deliveries (
    action_id text PRIMARY KEY,
    prospect_id text NOT NULL,
    type text NOT NULL,                  -- send_email, notify, crm_task, webhook
    source text NOT NULL,                -- the automation, program or SLA that made it
    status text NOT NULL CHECK (status IN ('scheduled', 'sent', 'written', 'suppressed', 'failed')),
    channel text,                        -- sendgrid, mailgun, postmark, ses, outbox, chat, email, crm_tasks, webhook
    marketing boolean NOT NULL DEFAULT false,  -- a marketing email (counted against the weekly cap)
    due_at timestamptz NOT NULL,
    detail text,                         -- the provider's message id, the suppression reason, the error
                                         -- ('failed': a scheduled action dead-lettered; a replay sends it)
    attempts integer NOT NULL DEFAULT 0,
    action bytea,                        -- the encoded Action while it is scheduled
    created_at timestamptz NOT NULL DEFAULT now(),
    done_at timestamptz
);
CREATE INDEX action_deliveries_due ON action_deliveries (due_at) WHERE status = 'scheduled';
CREATE INDEX action_deliveries_marketing ON action_deliveries (prospect_id, done_at) WHERE marketing;

-- Addresses marketing email no longer goes to, as the email providers' webhooks and the unsubscribe
-- endpoint reported them (hard bounce, complaint, unsubscribe): checked again at send time.
CREATE TABLE email_suppressions (
    prospect_id text PRIMARY KEY,
    reason text NOT NULL,                -- unsubscribed, hard_bounce, complaint
    event_id text NOT NULL,
    occurred_at timestamptz NOT NULL
);
