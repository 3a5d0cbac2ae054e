from __future__ import annotations

from shared.runtime.migrations import available_migrations, latest_version


def test_migrations_are_numbered_without_gaps() -> None:
    migrations = available_migrations()
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
    assert latest_version() == len(migrations) >= 1
    assert all(m.sql.strip() for m in migrations)
