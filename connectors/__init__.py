"""Sources (the HTTP collector) and sinks (the CRM) at the edges of the pipeline."""
