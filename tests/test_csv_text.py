"""Every CSV the project writes is safe to open in a spreadsheet (readers/csv_text.py)."""

import csv
import io

import pandas as pd
import pytest

from readers.csv_text import safe_cell, to_csv


@pytest.mark.parametrize(
    "name",
    ['=HYPERLINK("http://x","y")', "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx", "=1"],
)
def test_a_text_cell_that_starts_a_formula_is_made_text(name):
    text = to_csv(pd.DataFrame({"api_key_name": [name], "requests": [3]}))
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[1] == ["'" + name, "3"]


def test_numbers_and_ordinary_names_are_written_as_they_are():
    frame = pd.DataFrame(
        {"model": ["gpt-4o", 'say "hi", twice', "naïve"], "delta": [-1.5, 2.0, None]}
    )
    text = to_csv(frame)
    assert text.endswith("\r\n")  # RFC 4180 line ends
    back = pd.read_csv(io.StringIO(text), keep_default_na=False)
    assert list(back["model"]) == ["gpt-4o", 'say "hi", twice', "naïve"]
    assert list(back["delta"].astype(str)) == ["-1.5", "2.0", ""]


def test_safe_cell_leaves_non_text_alone():
    assert safe_cell(-3) == -3 and safe_cell(None) is None and safe_cell("a-b") == "a-b"
