"""A contacts CSV for `baton contacts import`, read and checked whole before anything is sent.

The file must be UTF-8 text (a UTF-8 byte-order mark is fine) of comma-separated values whose
first line names the columns, one of them `phone`; `first_name`, `last_name` and `timezone` are
known (in any case), every other named column becomes a custom field of text. A file that is not
that, or that holds something no request could carry, is a `MalformedFileError` whose message is one
line naming the first problem and, where there is one, its line: the file is empty, binary,
UTF-16 or UTF-32, Latin-1, has a NUL byte, a field too large, no `phone` column, a column named
twice, a value under no column, or broken quoting. Custom fields are flat text, so a CSV cannot
nest them at all (the server bounds the nesting of `fields` sent by other clients).

Rows the server may still reject one by one (a number that is no phone number, an unknown time
zone, a duplicate, an opted-out number) are not the file's fault: the import's summary counts
them.
"""

from __future__ import annotations

import bisect
import codecs
import csv
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import msgspec

from shared.contract.schemas.admin import (
    MAX_FIELD_ENTRIES,
    MAX_FIELD_KEY,
    MAX_FIELD_TEXT,
    MAX_FIELDS_BYTES,
    MAX_FILE_ROWS,
)

KNOWN = ("phone", "first_name", "last_name", "timezone")
# The longest value of each known column that a request may carry (shared/contract/schemas/admin.py
# ContactRow), and of a custom field's value.
COLUMN_LIMITS = {"phone": 64, "first_name": 200, "last_name": 200, "timezone": 64}
MAX_VALUE_CHARS = MAX_FIELD_TEXT
# One row as JSON in a request; parts are cut well below the services' request limit (1 MiB).
MAX_ROW_BYTES = 64 * 1024
# A physical line is read whole; one longer than this cannot be a row of acceptable values.
MAX_LINE_BYTES = 1024 * 1024
# How much of the start of a file tells whether it is text at all.
SAMPLE_BYTES = 8192

# Files people export by mistake, by their first bytes.
_SIGNATURES = (
    (b"PK\x03\x04", "a ZIP archive (an Excel .xlsx workbook?)"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an Excel .xls workbook"),
    (b"%PDF-", "a PDF document"),
    (b"\x1f\x8b", "gzip-compressed"),
)
_BOMS = (  # UTF-32 first: its little-endian mark begins with UTF-16's
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)
SAVE_AS = "save it as CSV UTF-8"


class MalformedFileError(ValueError):
    """The file cannot be imported as it is; the message is the one-line reason."""


@dataclass
class FileLayout:
    """What reading the whole file found: its rows, and where each one starts."""

    rows: int = 0
    # (row, lines before it beyond one per row and the header): only rows after a blank line or
    # a value spanning lines start a new entry, so an ordinary file keeps none.
    shifts: list[tuple[int, int]] = field(default_factory=list)

    def line(self, row: int) -> int:
        """The line of the file on which row `row` (from 0) starts."""
        at = bisect.bisect_right(self.shifts, (row, MAX_LINE_BYTES)) - 1
        return row + 2 + (self.shifts[at][1] if at >= 0 else 0)


class ContactsFile:
    def __init__(self, path: Path) -> None:
        self.path = path

    def scan(self) -> FileLayout:
        """Read and check every row; raise `MalformedFileError` at the first problem."""
        layout = FileLayout()
        shift = 0
        for row, (line, _) in enumerate(self.rows()):
            if line - row - 2 != shift:
                shift = line - row - 2
                layout.shifts.append((row, shift))
            layout.rows = row + 1
            if layout.rows > MAX_FILE_ROWS:
                raise MalformedFileError(f"more than {MAX_FILE_ROWS:,} rows; split the file")
        if layout.rows == 0:
            raise MalformedFileError("no rows: the file has a header line and nothing else")
        return layout

    def rows(self) -> Iterator[tuple[int, bytes]]:
        """Each row as (the line it starts on, the row as a request's JSON contact)."""
        with self.path.open("rb") as handle:
            reader = csv.reader(_text_lines(handle), strict=True)
            try:
                header = next((r for r in reader if r), None)
                if header is None:
                    raise MalformedFileError("the file is empty: no header line, no rows")
                columns = _columns(header)
                last = reader.line_num
                for record in reader:
                    start, last = last + 1, reader.line_num
                    if record:
                        yield start, _encoded(record, columns, start)
            except csv.Error as exc:
                raise MalformedFileError(f"line {reader.line_num}: {_csv_problem(exc)}") from None


def _text_lines(handle: BinaryIO) -> Iterator[str]:
    """The file's lines as text, each checked: no NUL, valid UTF-8, not too long."""
    sample = handle.read(SAMPLE_BYTES)
    _check_start(sample)
    handle.seek(0)
    number = 0
    while raw := handle.readline(MAX_LINE_BYTES + 1):
        number += 1
        if len(raw) > MAX_LINE_BYTES:
            raise MalformedFileError(
                f"line {number}: a field too large: the line is longer than "
                f"{MAX_LINE_BYTES:,} bytes"
            )
        if number == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8) :]
        nul = raw.find(b"\x00")
        if nul >= 0:
            if _binary(sample):
                raise MalformedFileError(_binary_reason(sample))
            column = len(raw[:nul].decode("utf-8", "replace")) + 1
            raise MalformedFileError(
                f"line {number}, column {column}: a NUL byte, which no text may hold"
            )
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedFileError(_not_utf8(sample, raw, exc, number)) from None
        yield text


def _check_start(sample: bytes) -> None:
    if not sample:
        raise MalformedFileError("the file is empty (0 bytes)")
    for bom, encoding in _BOMS:
        if sample.startswith(bom):
            raise MalformedFileError(
                f"the file is {encoding} (it starts with a {encoding} byte-order mark), "
                f"not UTF-8; {SAVE_AS}"
            )
    for signature, what in _SIGNATURES:
        if sample.startswith(signature):
            raise MalformedFileError(f"the file is {what}, not CSV text; export it as CSV UTF-8")
    order = _utf16_order(sample)
    if order:
        raise MalformedFileError(
            f"the file looks UTF-16 ({order}, with no byte-order mark), not UTF-8; {SAVE_AS}"
        )
    if _binary(sample):
        raise MalformedFileError(_binary_reason(sample))


def _utf16_order(sample: bytes) -> str | None:
    """UTF-16 without a byte-order mark: mostly-ASCII text has a NUL in every other byte."""
    even, odd = sample[0::2], sample[1::2]
    if len(sample) < 4:
        return None
    if odd.count(0) > 0.4 * len(odd) and even.count(0) < 0.05 * len(even):
        return "little-endian"
    if even.count(0) > 0.4 * len(even) and odd.count(0) < 0.05 * len(odd):
        return "big-endian"
    return None


def _control_bytes(sample: bytes) -> int:
    return sum(1 for b in sample if (b < 0x20 and b not in b"\t\n\r\f") or b == 0x7F)


def _binary(sample: bytes) -> bool:
    """Text has next to no control bytes; anything else (random bytes: one in nine) is binary. A
    handful in a tiny file is left to the line they are on to name."""
    control = _control_bytes(sample)
    return control >= 8 and control * 20 > len(sample)


def _binary_reason(sample: bytes) -> str:
    return (
        f"the file is binary, not CSV text: {_control_bytes(sample):,} of its first "
        f"{len(sample):,} bytes are control bytes"
    )


def _not_utf8(sample: bytes, raw: bytes, exc: UnicodeDecodeError, number: int) -> str:
    if _binary(sample):
        return _binary_reason(sample)
    column = len(raw[: exc.start].decode("utf-8", "replace")) + 1
    bad = raw[exc.start : exc.end]
    where = f"line {number}, column {column}"
    latin = _as_latin(bad[0])
    if latin:
        return (
            f"{where}: byte 0x{bad[0]:02X} is not UTF-8; the file looks Latin-1 or "
            f"Windows-1252 (where it is '{latin}'); {SAVE_AS}"
        )
    return f"{where}: bytes {bad.hex(' ')} are not UTF-8; {SAVE_AS}"


def _as_latin(byte: int) -> str | None:
    """The letter or sign `byte` is in Windows-1252 (a superset of Latin-1's printable part)."""
    try:
        char = bytes([byte]).decode("cp1252")
    except UnicodeDecodeError:
        return None
    return char if unicodedata.category(char)[0] in "LNPSZ" and byte >= 0x80 else None


def _show(text: str, limit: int = 40) -> str:
    """A value of the file, quoted on one line."""
    shown = text if len(text) <= limit else text[: limit - 1] + "…"
    shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in shown)
    return "`" + shown.replace("`", "'") + "`"


def _columns(header: list[str]) -> list[str]:
    """The header's names: known ones in lower case, custom ones as written, unnamed ones ''."""
    columns: list[str] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(header, start=1):
        name = raw.strip()
        if name.lower() in KNOWN:
            name = name.lower()
        if name and name in seen:
            raise MalformedFileError(
                f"the first line names the column {_show(name)} twice (columns {seen[name]} "
                f"and {number}); rename or remove one"
            )
        seen[name] = number
        columns.append(name)
    if "phone" not in seen:
        named = ", ".join(_show(n) for n in columns[:8] if n) or "nothing"
        hint = ""
        if any("\t" in n or ";" in n for n in header):
            hint = "; are its values separated by tabs or semicolons? Commas are expected"
        raise MalformedFileError(
            f"no `phone` column: the first line must name the columns, one of them `phone` "
            f"(it names {named}){hint}"
        )
    return columns


def _encoded(record: list[str], columns: list[str], line: int) -> bytes:
    if len(record) > len(columns) and any(v.strip() for v in record[len(columns) :]):
        raise MalformedFileError(
            f"line {line}: {len(record)} values, but the first line names {len(columns)} columns"
        )
    row: dict[str, object] = {"phone": ""}
    fields: dict[str, str] = {}
    for number, (name, value) in enumerate(zip(columns, record, strict=False), start=1):
        if not name:
            if value.strip():
                raise MalformedFileError(
                    f"line {line}: a value in column {number}, which the first line leaves unnamed"
                )
            continue
        limit = COLUMN_LIMITS.get(name, MAX_VALUE_CHARS)
        if len(value) > limit:
            raise MalformedFileError(
                f"line {line}: a field too large: {_show(name)} holds {len(value):,} "
                f"characters, at most {limit:,}"
            )
        if name in KNOWN:
            if value or name == "phone":
                row[name] = value
        elif value:
            fields[name] = value
    if fields:
        _check_fields(fields, line)
        row["fields"] = fields
    encoded = msgspec.json.encode(row)
    if len(encoded) > MAX_ROW_BYTES:
        raise MalformedFileError(
            f"line {line}: a row too large: {len(encoded):,} bytes as JSON, at most "
            f"{MAX_ROW_BYTES:,}"
        )
    return encoded


def _csv_problem(exc: csv.Error) -> str:
    text = str(exc)
    if "field larger than field limit" in text:
        return f"a field too large: more than {csv.field_size_limit():,} characters"
    if "new-line character seen in unquoted field" in text:
        return "a bare carriage return ends a line (old Mac line endings?); " + SAVE_AS
    return f"bad CSV quoting: {text}"


def _check_fields(fields: dict[str, str], line: int) -> None:
    """The bounds a request's custom fields have (ContactRow), checked before anything is sent."""
    long_name = next((name for name in fields if len(name) > MAX_FIELD_KEY), None)
    if long_name is not None:
        raise MalformedFileError(
            f"line {line}: a column name longer than {MAX_FIELD_KEY} characters: "
            f"{_show(long_name[:40])}..."
        )
    if len(fields) > MAX_FIELD_ENTRIES:
        raise MalformedFileError(
            f"line {line}: {len(fields)} custom fields, at most {MAX_FIELD_ENTRIES} per contact"
        )
    size = len(msgspec.json.encode(fields))
    if size > MAX_FIELDS_BYTES:
        raise MalformedFileError(
            f"line {line}: custom fields too large: {size:,} bytes as JSON, at most "
            f"{MAX_FIELDS_BYTES:,}"
        )
