"""The administration commands and the catalogue agree: each command sends its route's fields,
and every subject an organizer or the operator may call has a command."""

from __future__ import annotations

import argparse

import pytest

from shared.contract import catalogue as api
from tools.cli import admin_commands
from tools.cli.main import build_parser


def _leaves() -> list[argparse.ArgumentParser]:
    commands = argparse.ArgumentParser().add_subparsers()
    admin_commands.add_parsers(commands)
    return admin_commands._leaves(commands)


def test_every_command_sends_only_fields_of_its_routes_request() -> None:
    for leaf in _leaves():
        route = leaf.get_default("route")
        assert api.BY_SUBJECT[route.subject] is route, leaf.prog
        # Every option at "given", as if the user had typed each one.
        given = argparse.Namespace(**{a.dest: 1 for a in leaf._actions})
        sent = set(leaf.get_default("build")(given))
        assert sent <= set(route.request.__struct_fields__), (leaf.prog, sent)


def test_every_subject_for_organizers_and_the_operator_has_a_command() -> None:
    administrative = {
        r.subject for r in api.ROUTES
        if not r.access.public and (r.access.operator or r.access.role in ("moderator", "admin"))
    }  # fmt: skip
    covered = {leaf.get_default("route").subject for leaf in _leaves()}
    # `baton contacts import` sends a CSV of any size in parts (tools/cli/contacts_import.py).
    assert (
        "import" in build_parser()._subparsers._group_actions[0].choices["contacts"].format_help()
    )
    covered.add(api.CONTACTS_IMPORT.subject)
    # `baton export` starts an export, waits for it and downloads it in parts
    # (tools/cli/export_command.py).
    assert "download" in build_parser()._subparsers._group_actions[0].choices["export"].description
    covered |= {
        api.CAMPAIGN_EXPORT.subject,
        api.CAMPAIGN_EXPORT_READ.subject,
        api.CAMPAIGN_EXPORT_PART.subject,
    }
    assert administrative - covered == set()


def test_move_takes_a_texter_id_or_none_and_refuses_anything_else_as_a_usage_error() -> None:
    parser = build_parser()
    assert parser.parse_args(["move", "7", "--to", "None"]).to is None
    assert parser.parse_args(["move", "7", "--to", "12"]).to == 12
    with pytest.raises(SystemExit) as usage:
        parser.parse_args(["move", "7", "--to", "nobody"])
    assert usage.value.code == 2
