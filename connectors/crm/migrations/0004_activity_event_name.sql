-- The sender's own event name of an activity (a Segment/RudderStack track call's "Demo Requested"),
-- next to its canonical type ("event.tracked"), so sales reads what the prospect did.
ALTER TABLE crm_lead_activities ADD COLUMN event_name text;
