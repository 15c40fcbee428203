"""The CRM sink: lead events -> idempotent upserts in the CRM database."""
