"""Inbound: ingests contacts' replies from JetStream and flips conversations to needs-reply."""
