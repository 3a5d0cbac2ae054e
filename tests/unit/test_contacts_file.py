"""Reading a contacts CSV (tools/cli/contacts_file.py): what a good file yields, and the one line
that names what is wrong with a bad one. The whole command, against real servers, is in
integration/test_contacts_import_cli.py."""

from __future__ import annotations

import codecs
import json
from pathlib import Path

import pytest

from tools.cli.contacts_file import ContactsFile, MalformedFileError


def read(tmp_path: Path, content: bytes) -> tuple[list[tuple[int, dict[str, object]]], list[int]]:
    path = tmp_path / "contacts.csv"
    path.write_bytes(content)
    file = ContactsFile(path)
    layout = file.scan()
    rows = [(line, json.loads(encoded)) for line, encoded in file.rows()]
    assert len(rows) == layout.rows
    return rows, [layout.line(n) for n in range(layout.rows)]


def test_rows_carry_known_columns_and_custom_fields_and_know_their_lines(tmp_path: Path) -> None:
    content = (
        codecs.BOM_UTF8
        + b" Phone ,First_Name,last_name,TimeZone,ward,\r\n"
        + b"+14155550100,Ann,Lee,America/Chicago,3,\r\n"
        + b"\r\n"
        + b'+14155550101,"Bo\r\nB",,,,\r\n'
        + b"+14155550102\r\n"
    )
    rows, lines = read(tmp_path, content)
    assert [row for _, row in rows] == [
        {"phone": "+14155550100", "first_name": "Ann", "last_name": "Lee",
         "timezone": "America/Chicago", "fields": {"ward": "3"}},
        {"phone": "+14155550101", "first_name": "Bo\r\nB"},
        {"phone": "+14155550102"},
    ]  # fmt: skip
    # A blank line and a value over two lines move the rows after them down.
    assert lines == [line for line, _ in rows] == [2, 4, 6]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("phone\n+1\n".encode("utf-32"), "UTF-32 (it starts with a UTF-32 byte-order mark)"),
        (b"\x1f\x8b\x08\x00" + bytes(64), "gzip-compressed"),
        (b"%PDF-1.7\n", "a PDF document"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(64), "an Excel .xls workbook"),
        (b"phone,name\r+14155550100,A\r", "bare carriage return"),
        (b"phone;name\n+14155550100;A\n", "separated by tabs or semicolons"),
        (b"phone\n+14155550100\x81\n", "line 2, column 13: bytes 81 are not UTF-8"),
        (b"phone\n+14155550100\x80\n", "byte 0x80 is not UTF-8; the file looks Latin-1 or Windows-1252 (where it is '\u20ac')"),
        (b"phone,name\n+1," + "\u00e9".encode() + b"\xe9\n", "line 2, column 5: byte 0xE9"),
        (b"phone,timezone\n+1," + b"Z" * 65 + b"\n", "`timezone` holds 65 characters, at most 64"),
        (b"phone,note\n+1," + b"n" * 10_001 + b"\n", "`note` holds 10,001 characters, at most 10,000"),
        (b"phone," + b",".join(b"c%d" % n for n in range(3000)) + b"\n+1,"
         + b",".join([b"v" * 30] * 3000) + b"\n", "3000 custom fields, at most 100 per contact"),
        (b"phone," + b",".join(b"c%d" % n for n in range(5)) + b"\n+1,"
         + b",".join([b"v" * 9000] * 5) + b"\n", "custom fields too large"),
        (b"phone," + b"c" * 101 + b"\n+1,v\n", "a column name longer than 100 characters"),
        (b"Phone,PHONE\n1,2\n", "column `phone` twice"),
        (b"phone,n\x01ame,n\x01ame\n1,2,3\n", r"column `n\x01ame` twice"),
    ],
)  # fmt: skip
def test_a_malformed_file_is_named_in_one_line(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "contacts.csv"
    path.write_bytes(content)
    with pytest.raises(MalformedFileError) as raised:
        ContactsFile(path).scan()
    assert reason in str(raised.value)
    assert "\n" not in str(raised.value) and "\r" not in str(raised.value)
