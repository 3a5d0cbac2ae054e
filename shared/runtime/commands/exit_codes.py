"""Exit codes that mean something to scripts and orchestrators."""

OK = 0
FAILED = 1  # the command ran and something it did failed
USAGE = 2  # bad arguments or settings
DEPENDENCY = 3  # Postgres or NATS could not be started or reached
REFUSED = 4  # Baton answered with an error (forbidden, not_found, ...)
