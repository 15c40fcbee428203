"""The HTTP collector: every accepted input becomes Interactions, every refused one a RejectedInput."""
