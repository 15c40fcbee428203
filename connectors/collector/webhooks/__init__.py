"""Email-provider webhooks, each in the vendor's own format, verified, mapped to canonical interactions."""
