"""Files a user uploads to the EWMA page: the text's encoding, its separator, the number format
of each column, a date column for the x-axis and the column most likely meant to be smoothed.

A file is read as its byte-order mark or UTF-8 says; otherwise the encoding is guessed from the
legacy encodings a class uses (GB18030, Big5, Shift-JIS, Windows-1252 and -1251) and the guess
is said, so a wrong one can be corrected by choosing the encoding.
"""

from __future__ import annotations

import codecs
import csv
import functools
import io
import json
import re
from dataclasses import dataclass, field

import numpy as np

from bnviz.data.series import Series, SeriesError, comma_format, finish, in_format, plain

# What the page offers when the guess is wrong: codec → its usual name.
ENCODINGS = {"utf-8": "UTF-8", "gb18030": "GB18030 / GBK", "big5": "Big5", "shift_jis": "Shift-JIS",
             "euc-kr": "EUC-KR", "cp1252": "Windows-1252 (Western Europe)", "cp1251": "Windows-1251 (Cyrillic)",
             "mac_roman": "Mac OS Roman", "utf-16": "UTF-16"}
_GUESSED = ("gb18030", "big5", "shift_jis", "cp1252", "mac_roman", "cp1251")  # in order of preference on a tie
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
# Accented letters and signs of Western European text (not the rarer Š, Ž, Œ, which are where
# cp1252 puts the bytes of Mac OS Roman's é, Ä, Ö).
_WESTERN = set("ÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÑÒÓÔÕÖØÙÚÛÜÝßàáâãäåæçèéêëìíîïñòóôõöøùúûüýÿ°µ€£¥§²³±·×÷«»“”‘’–—…©®™¼½¾¿¡¢")
DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日", "%d.%m.%Y", "%m/%d/%Y", "%d/%m/%Y",
                "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y%m%d")


@dataclass(frozen=True)
class Table:
    frame: object  # pandas DataFrame of the numeric columns
    dropped: list[str]  # columns without numbers (a date column is not among them)
    encoding: str  # the codec the text was read with
    guessed: bool = False  # the encoding was guessed (no byte-order mark, not UTF-8)
    formats: dict = field(default_factory=dict)  # column → comma_format of its numbers, where it had one
    dates: np.ndarray | None = None  # datetime64 per row, from the first date column in order
    date_column: str | None = None
    default: str = ""  # the column a user most likely means to smooth: not a step counter


@functools.cache
def _common(codec: str) -> frozenset:
    """The characters a text in a CJK ``codec`` is mostly made of: GB2312's level-1 hanzi, Big5's
    frequent characters, JIS level-1 kanji and kana; decoding another encoding's bytes mostly
    lands outside them."""
    if codec == "gb18030":
        leads, trails, table = range(0xB0, 0xD8), range(0xA1, 0xFF), "gb2312"
    elif codec == "big5":
        leads, trails, table = range(0xA4, 0xC7), [*range(0x40, 0x7F), *range(0xA1, 0xFF)], "big5"
    else:
        leads, trails, table = [0x82, 0x83, *range(0x88, 0x99)], [*range(0x40, 0x7F), *range(0x80, 0xFD)], "shift_jis"
    pairs = bytes(b for lead in leads for trail in trails for b in (lead, trail))
    chars = {ch for i in range(0, len(pairs), 2) for ch in pairs[i:i + 2].decode(table, errors="ignore")}
    return frozenset(chars) | {chr(c) for c in range(0x3000, 0x3040)} | {chr(c) for c in range(0xFF00, 0xFFF0)}


def _plausible(text: str, codec: str, data: bytes) -> float:
    """How much ``text`` (``data`` read as ``codec``) looks like real text: the share of its
    non-ASCII characters that such a text is made of."""
    others = [ch for ch in text if ord(ch) > 127]
    if not others:
        return 0.0
    runs = [len(r) for r in re.findall(rb"[\x80-\xff]+", data)]  # bytes of 128 and above, in a row
    if codec in ("cp1252", "mac_roman"):  # accents stand alone between letters
        return sum(n <= 2 for n in runs) / len(runs) * sum(ch in _WESTERN for ch in others) / len(others)
    if codec == "cp1251":
        return sum("\u0400" <= ch <= "\u04ff" for ch in others) / len(others)
    # A CJK character of two high bytes: when every high byte stands alone, the text is more
    # likely accented letters each followed by an ASCII one.
    alone = 0.5 if all(n == 1 for n in runs) else 1.0
    return alone * sum(ch in _common(codec) for ch in others) / len(others)


def _utf16_without_bom(head: bytes) -> str | None:
    """UTF-16 text with no byte-order mark: mostly ASCII, so every other byte is zero."""
    even, odd = head[0::2], head[1::2]
    if len(head) >= 4 and odd.count(0) > 0.4 * len(odd) and even.count(0) < 0.1 * len(even):
        return "utf-16-le"
    if len(head) >= 4 and even.count(0) > 0.4 * len(even) and odd.count(0) < 0.1 * len(odd):
        return "utf-16-be"
    return None


def decode(data: bytes, encoding: str = "auto") -> tuple[str, str, bool]:
    """``(text, codec, guessed)``: ``data`` as text, in ``encoding`` or, with "auto", as its
    byte-order mark says, else UTF-8, else the most plausible legacy encoding (``guessed``)."""
    head = data[:8192]
    if encoding != "auto":
        try:
            text = data.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            raise SeriesError("encoding_wrong", encoding=ENCODINGS.get(encoding, encoding)) from None
        return _text(text), encoding, False
    marked = next((codec for bom, codec in _BOMS if data.startswith(bom)), None)
    if marked or b"\x00" in head:
        codec = marked or _utf16_without_bom(head)
        if codec is None:
            raise SeriesError("binary")
        try:
            return _text(data.decode(codec)), codec, marked is None
        except UnicodeDecodeError:
            raise SeriesError("encoding") from None
    try:
        return _text(data.decode("utf-8")), "utf-8", False
    except UnicodeDecodeError:
        pass
    best, score = None, -1.0
    for codec in _GUESSED:
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            continue
        plausible = _plausible(text[:20_000], codec, head)
        if plausible > score:
            best, score = (text, codec), plausible
    if best is None:
        raise SeriesError("encoding")
    return _text(best[0]), best[1], True


def _text(text: str) -> str:
    """``text`` unless it is mostly control characters (a binary file that happened to decode)."""
    sample = text[:8192]
    controls = sum(ch < " " and ch not in "\t\r\n" for ch in sample)
    if controls > 0.01 * max(1, len(sample)):
        raise SeriesError("binary")
    return text


def _numbers(cells, decimal_first: bool):
    """``(values, format)`` of a column of text cells, or ``(None, "")`` when fewer than half of
    its non-empty cells are numbers. Spaces or apostrophes between groups of three digits
    ("1 234,5", "1'234") are thousands separators; full-width digits count as digits."""
    import pandas as pd

    text = cells.fillna("").astype(str).str.strip()
    present = text != ""
    if not present.any():
        return None, ""
    direct = pd.to_numeric(text.where(present), errors="coerce")
    if direct[present].notna().all():  # plain numbers (the common case, and a million rows): done
        return direct.to_numpy(float), ""
    text = text.map(plain).str.strip().str.replace(r"(?<=\d)[ \u00a0\u202f'](?=\d{3}(?!\d))", "", regex=True)
    present = text != ""
    tokens = text[present].tolist()
    number_format = comma_format(tokens, decimal_first)
    values = pd.Series(np.nan, index=text.index)
    values[present] = pd.to_numeric(pd.Series(in_format(tokens, number_format), index=text[present].index),
                                     errors="coerce")
    if values[present].notna().mean() < 0.5:
        return None, ""
    return values.to_numpy(float), number_format


def _dates(cells) -> np.ndarray | None:
    """The column as dates when every cell is one, in one of ``DATE_FORMATS``, in increasing order."""
    import pandas as pd

    text = cells.fillna("").astype(str).map(plain).str.strip()
    if not len(text) or (text == "").any():
        return None
    for fmt in DATE_FORMATS:
        parsed = pd.to_datetime(text, format=fmt, errors="coerce")
        if parsed.notna().all():
            return parsed.to_numpy() if parsed.is_monotonic_increasing else None
    return None


def _counter(values: np.ndarray) -> bool:
    """A step, epoch or iteration column: whole numbers that never go down."""
    if len(values) < 3 or not np.isfinite(values).all():
        return False
    return bool(np.all(values == np.round(values)) and np.all(np.diff(values) >= 0) and values[-1] > values[0])


# Workbooks whatever their name says: .xlsx, .ods and .numbers are ZIP archives, .xls an OLE file.
WORKBOOKS = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0")


def _json_frame(value):
    """The table a JSON document holds, as tools write one: a list of numbers, a list of records,
    or an object of columns (lists of one length); None for anything else."""
    import pandas as pd

    def numbers(items) -> bool:
        return isinstance(items, list) and all(isinstance(v, (int, float)) or v is None for v in items)

    if numbers(value) and value:
        return pd.DataFrame({"value": value})
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return pd.DataFrame.from_records(value)
    if isinstance(value, dict) and value and all(numbers(v) for v in value.values()) \
            and len({len(v) for v in value.values()}) == 1:
        return pd.DataFrame(value)
    return None


def _from_json(text: str) -> str:
    """``text`` itself, or, when it is a JSON document, its table as CSV text."""
    stripped = text.lstrip()
    if stripped[:1] not in ("[", "{"):
        return text
    try:
        value = json.loads(stripped)
    except ValueError:
        return text  # not JSON after all: read as a table
    frame = _json_frame(value)
    if frame is None:
        raise SeriesError("json")
    return frame.to_csv(index=False)


def read_table(data: bytes, encoding: str = "auto") -> Table:
    """CSV/TSV/semicolon bytes (or a JSON document of numbers) as a :class:`Table` of numeric
    columns (others dropped)."""
    import pandas as pd

    if not data or not data.strip():
        raise SeriesError("empty")
    if data.startswith(WORKBOOKS):
        raise SeriesError("workbook")
    text, codec, guessed = decode(data, encoding)
    text = _from_json(text)
    lines = text.lstrip().splitlines()
    if not lines:
        raise SeriesError("empty")
    sample = "\n".join(lines[:50])
    try:
        sep = csv.Sniffer().sniff(sample, delimiters=",;\t").delimiter
    except csv.Error:
        sep = "," if "," in sample else r"\s+"
    first = [plain(c).strip() for c in re.split(sep, lines[0])]
    header = None if all(_numbers(pd.Series([c]), sep == ";")[0] is not None for c in first if c) else 0
    try:
        df = pd.read_csv(io.StringIO(text), sep=sep, header=header, dtype=str, keep_default_na=False,
                         engine="c" if sep != r"\s+" else "python", skipinitialspace=True, on_bad_lines="skip")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError):
        raise SeriesError("unparsable") from None
    if header is None:
        df.columns = [f"column {i + 1}" for i in range(df.shape[1])]
    df.columns = [str(c).strip() for c in df.columns]
    if df.empty:
        raise SeriesError("header_only", columns=", ".join(list(df.columns)[:5]))
    numeric, dropped, formats, dates, date_column = {}, [], {}, None, None
    for col in df.columns:
        values, number_format = _numbers(df[col], sep == ";")
        if values is not None:
            numeric[col] = values
            if number_format:
                formats[col] = number_format
        elif dates is None and (dates := _dates(df[col])) is not None:
            date_column = col
        else:
            dropped.append(col)
    if not numeric:
        raise SeriesError("no_numeric", columns=", ".join(dropped[:5]))
    default = next((c for c, v in numeric.items() if not _counter(v)), list(numeric)[-1])
    return Table(pd.DataFrame(numeric), dropped, codec, guessed, formats, dates, date_column, default)


def from_table(table: Table, column: str) -> Series:
    """One numeric column of a :class:`Table` as a :class:`Series`, on its dates if it has them."""
    if column not in table.frame.columns:
        raise SeriesError("no_column", column=column)
    return finish(table.frame[column].to_numpy(float), column, table.dates,
                  number_format=table.formats.get(column, ""))
