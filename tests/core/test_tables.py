"""Uploaded files: encodings, separators, number formats of other locales, dates, the column to smooth.

Every file here is written by Python's own codecs and pandas, the way a spreadsheet program or an
older system would save it; what the page reads back is compared with the numbers written.
"""

import codecs

import numpy as np
import pandas as pd
import pytest

from bnviz.data import series, tables

LOG = "step,loss\n1,0.9\n2,0.7\n3,0.6\n4,0.5\n"


def test_csv_with_header_and_text_column():
    table = tables.read_table(b"step,name,loss\n1,a,0.9\n2,b,0.7\n3,c,\n4,d,0.5\n")
    assert list(table.frame.columns) == ["step", "loss"] and table.dropped == ["name"]
    assert tables.from_table(table, "loss").notes == {"non_finite": 1}


@pytest.mark.parametrize("data", [b"1\n2\n3\n", b"1;2\n3;4\n5;6\n", b"1\t2\n3\t4\n", "\ufeff1,2\n3,4\n".encode()])
def test_csv_without_header(data):
    table = tables.read_table(data)
    assert table.frame.iloc[:, 0].tolist()[:2] in ([1.0, 2.0], [1.0, 3.0])


@pytest.mark.parametrize("data, key", [
    (b"", "empty"), (b"\n\n  ", "empty"), (b"name,city\nann,paris\nbob,rome\n", "no_numeric"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"), (bytes(range(256)) * 4, "binary"),
    (b"\xff\xfe\xfa\xfb,\xff\n" * 3, "encoding"), (b"x\n1\n", "too_short"),
    # a workbook renamed .csv (.xlsx/.ods are ZIP archives, .xls an OLE file), whatever follows
    (b"PK\x03\x04\x14\x00\x06\x00[Content_Types].xml" + bytes(200), "workbook"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(500), "workbook"),
    # a header and nothing under it; JSON that holds no table of numbers
    (b"a,b,c\n", "header_only"), (b"step;loss\r\n", "header_only"),
    (b'{"name": "run 3", "ok": true}', "json"), (b'[["a", 1], ["b", 2]]', "json"), (b"[]", "json"),
])
def test_csv_errors(data, key):
    with pytest.raises(series.SeriesError) as err:
        table = tables.read_table(data)
        tables.from_table(table, table.frame.columns[0])
    assert err.value.key == key


def test_huge_numbers_become_non_finite_not_errors():
    s = tables.from_table(tables.read_table(b"v\n1e400\n1\n2\n-1e400\n"), "v")
    assert s.notes["non_finite"] == 2


# (header, codec): names in the scripts a class writes, saved in that script's usual legacy encoding.
LEGACY = [
    ("步数,训练损失", "gb18030"), ("日期,最高气温", "gbk"), ("步數,訓練損失", "big5"), ("損失,精度", "big5"),
    ("ステップ,損失", "shift_jis"), ("jour,température", "cp1252"), ("Größe,Maß", "latin-1"),
    ("Schritt,Verlust (µ)", "cp1252"), ("Шаг,Потери", "cp1251"), ("étape,coût", "mac_roman"),
]


@pytest.mark.parametrize("header, codec", LEGACY)
def test_legacy_encodings_are_recognised_and_the_guess_is_said(header, codec):
    table = tables.read_table((header + "\n1,0.5\n2,0.25\n3,0.125\n").encode(codec))
    assert list(table.frame.columns) == header.split(",")
    plausible = {codecs.lookup(c).name for c in (codec, "gb18030", "cp1252")}
    assert table.guessed and codecs.lookup(table.encoding).name in plausible
    assert table.frame.iloc[:, 1].tolist() == [0.5, 0.25, 0.125]


@pytest.mark.parametrize("codec", ["utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_unicode_files_with_and_without_a_byte_order_mark(codec):
    # Excel's "Unicode text" is UTF-16 with tabs.
    table = tables.read_table("步数\t损失\n1\t0.5\n2\t0.25\n3\t0.125\n".encode(codec))
    assert list(table.frame.columns) == ["步数", "损失"] and table.frame["损失"].tolist() == [0.5, 0.25, 0.125]
    assert table.default == "损失"


def test_a_wrong_guess_can_be_corrected_and_an_impossible_choice_is_a_clear_error():
    data = "步數,損失\n1,0.5\n2,0.25\n".encode("big5")
    assert list(tables.read_table(data, encoding="big5").frame.columns) == ["步數", "損失"]
    with pytest.raises(series.SeriesError) as err:
        tables.read_table(data, encoding="utf-8")
    assert err.value.key == "encoding_wrong" and err.value.params["encoding"] == "UTF-8"


@pytest.mark.parametrize("text, column, expected, number_format", [
    # European spreadsheets: semicolons between cells, decimal commas, points or spaces between thousands.
    ("Datum;Wert\n01.01.2020;1,5\n02.01.2020;2,25\n03.01.2020;-3,75\n", "Wert", [1.5, 2.25, -3.75], "decimal_comma"),
    ("a;b\n1;1.234,5\n2;12.345,25\n3;0,5\n", "b", [1234.5, 12345.25, 0.5], "decimal_comma"),
    ("a;b\n1;1 234,5\n2;12 345,25\n3;0,5\n", "b", [1234.5, 12345.25, 0.5], "decimal_comma"),
    ("a;b\n1;1\u202f234,5\n2;2\u00a0000,0\n3;7,5\n", "b", [1234.5, 2000.0, 7.5], "decimal_comma"),
    # Ambiguous "1,234" in a semicolon file: the decimal reading, said.
    ("a;b\n1;1,234\n2;2,345\n3;3,456\n", "b", [1.234, 2.345, 3.456], "decimal_comma_assumed"),
    # Quoted thousands in a comma file (English or Chinese locale), and the ambiguous case there.
    ('a,b\n1,"1,234.5"\n2,"12,345.25"\n3,0.5\n', "b", [1234.5, 12345.25, 0.5], "thousands"),
    ('a,b\n1,"1,234"\n2,"2,345"\n3,"3,456"\n', "b", [1234.0, 2345.0, 3456.0], "thousands_assumed"),
    # Swiss apostrophes; full-width digits and signs typed on a Chinese input method.
    ("a;b\n1;1'234.5\n2;2'000\n3;3.5\n", "b", [1234.5, 2000.0, 3.5], ""),
    ("步数,损失\n１,０．５\n２,－０．２５\n３,１．２５\n", "损失", [0.5, -0.25, 1.25], ""),
])
def test_number_formats_of_other_locales(text, column, expected, number_format):
    table = tables.read_table(text.encode("utf-8"))
    assert table.frame[column].tolist() == pytest.approx(expected, rel=1e-12)
    assert table.formats.get(column, "") == number_format
    assert tables.from_table(table, column).notes.get("number_format", "") == number_format


def test_a_training_log_smooths_the_loss_not_the_step():
    table = tables.read_table(LOG.encode())
    assert table.default == "loss"
    table = tables.read_table(b"epoch;iteration;train_loss;val_acc\n0;100;2,3;0,1\n0;200;1,9;0,2\n1;300;1,7;0,3\n")
    assert table.default == "train_loss"  # the epoch column repeats, the iteration one counts


@pytest.mark.parametrize("dates", [
    ["2024-03-01", "2024-03-02", "2024-03-03"], ["2024/3/1", "2024/3/2", "2024/3/3"],
    ["01.03.2024", "02.03.2024", "03.03.2024"], ["2024年3月1日", "2024年3月2日", "2024年3月3日"],
    ["2024-03-01 08:00:00", "2024-03-01 09:00:00", "2024-03-01 10:00:00"],
])
def test_a_date_column_becomes_the_x_axis(dates):
    text = "when,value\n" + "".join(f"{d},{v}\n" for d, v in zip(dates, (1.5, 2.5, 3.5)))
    table = tables.read_table(text.encode())
    assert table.date_column == "when" and "when" not in table.dropped and list(table.frame.columns) == ["value"]
    s = tables.from_table(table, "value")
    assert s.index is not None and len(s.index) == 3 and np.all(np.diff(s.index) > np.timedelta64(0))
    assert pd.Timestamp(s.index[0]).month == 3 and pd.Timestamp(s.index[0]).day == 1


def test_dates_out_of_order_stay_a_dropped_text_column():
    table = tables.read_table(b"when,value\n2024-03-02,1\n2024-03-01,2\n2024-03-03,3\n")
    assert table.dates is None and table.dropped == ["when"]


@pytest.mark.parametrize("text, columns", [
    ("[1.5, 2, 3.25, null, 5]", {"value": [1.5, 2, 3.25, np.nan, 5]}),  # json.dump of a list
    ('{"step": [1, 2, 3], "loss": [0.9, 0.5, 0.25]}', {"step": [1, 2, 3], "loss": [0.9, 0.5, 0.25]}),  # columns
    ('[{"step": 1, "loss": 0.9, "tag": "a"}, {"step": 2, "loss": 0.5, "tag": "b"}, {"step": 3, "loss": 0.25, '
     '"tag": "c"}]', {"step": [1, 2, 3], "loss": [0.9, 0.5, 0.25]}),  # records (pandas' to_json orient=records)
])
def test_a_json_file_is_read_as_the_table_it_holds(text, columns):
    table = tables.read_table(text.encode())
    assert list(table.frame.columns) == list(columns) and table.dropped == (["tag"] if "tag" in text else [])
    for name, values in columns.items():  # exact: JSON text → float, as the literals here (no arithmetic)
        np.testing.assert_array_equal(table.frame[name].to_numpy(), np.array(values, dtype=float))


def test_a_csv_that_only_starts_like_json_is_still_a_table():
    table = tables.read_table(b"[a],b\n1,2\n3,4\n")
    assert list(table.frame.columns) == ["[a]", "b"]
