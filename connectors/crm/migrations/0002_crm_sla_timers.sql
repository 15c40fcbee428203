-- One row per sales-response SLA clock (one per promotion), kept current by the sink from leadflow.sla.
CREATE TABLE crm_sla_timers (
    prospect_id      text NOT NULL,
    sla_id           text NOT NULL,
    started_at       timestamptz NOT NULL,
    due_at           timestamptz NOT NULL,
    status           text NOT NULL,              -- open, met, breached or cancelled
    met_at           timestamptz,
    breached_at      timestamptz,
    escalation_level integer NOT NULL DEFAULT 0,
    owner            text,                       -- who must act now (set by escalations)
    step             integer NOT NULL,           -- order of the newest step applied: replays never go back
    last_event_id    text NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (prospect_id, sla_id, started_at)
);
CREATE INDEX crm_sla_timers_open_idx ON crm_sla_timers (status, due_at);
