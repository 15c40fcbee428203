"""Email actions: templates rendered with tracking and one-click unsubscribe, sent through a provider."""
