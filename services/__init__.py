"""Baton's four services, each a separate process talking over NATS:

- assigner: batch requests, reassignment and campaign administration;
- sender: dispatches initials and replies through the outbox;
- inbound: ingests contacts' replies and flips conversations to needs-reply;
- reaper: releases replies left unhandled past the campaign's timeout.
"""
