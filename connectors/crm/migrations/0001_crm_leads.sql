-- Leads handed to sales: one row per prospect, kept current by the sink.
CREATE TABLE crm_leads (
    prospect_id      text PRIMARY KEY,
    email            text,
    stage            text NOT NULL,
    score_total      double precision NOT NULL,
    score_fit        double precision NOT NULL,
    score_behaviour  double precision NOT NULL,
    dimensions       jsonb NOT NULL DEFAULT '{}',
    profile          jsonb NOT NULL DEFAULT '{}',
    segments         text[] NOT NULL DEFAULT '{}',
    model_version    text NOT NULL,
    promoted_at      timestamptz,
    last_activity_at timestamptz,
    version          bigint NOT NULL,
    last_event_id    text NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX crm_leads_stage_idx ON crm_leads (stage);

-- The interaction timeline of each lead, one row per interaction.
CREATE TABLE crm_lead_activities (
    event_id     text PRIMARY KEY,
    prospect_id  text NOT NULL REFERENCES crm_leads (prospect_id) ON DELETE CASCADE,
    type         text NOT NULL,
    occurred_at  timestamptz NOT NULL,
    source       text NOT NULL,
    url          text,
    points       double precision NOT NULL DEFAULT 0,
    inserted_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX crm_lead_activities_prospect_idx ON crm_lead_activities (prospect_id, occurred_at);
