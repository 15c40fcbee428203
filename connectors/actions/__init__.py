"""Action delivery (``leadflow actions``): the automation engine's ``Action`` records made to happen in the
world, once each: email through the user's provider (or the local outbox), sales notifications to chat, CRM
tasks, webhooks."""
