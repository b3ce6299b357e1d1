from __future__ import annotations

import csv
import io

import pytest

from wafa.core.csvsafe import escape_cell, safe_writer


class TestEscapeCell:
    @pytest.mark.parametrize(
        "text", ["=1+1", "+31 6 1234", "-2", "@SUM(A1)", "\tx", "\rx", '=HYPERLINK("x")']
    )
    def test_text_that_starts_a_formula_gets_a_quote(self, text: str) -> None:
        assert escape_cell(text) == "'" + text

    @pytest.mark.parametrize("value", ["Tea", "", " =x", "a=b", "'=x", 12, -3, 1.5, None])
    def test_everything_else_is_left_as_it_is(self, value: object) -> None:
        assert escape_cell(value) == value


class TestSafeWriter:
    def test_rows_read_back_as_text_that_no_spreadsheet_evaluates(self) -> None:
        out = io.StringIO()
        writer = safe_writer(out)
        writer.writerow(["line", "row"])
        writer.writerows([[2, "=cmd|' /C calc'!A0"], [-3, "-2+3"]])
        rows = list(csv.reader(io.StringIO(out.getvalue())))
        assert rows == [["line", "row"], ["2", "'=cmd|' /C calc'!A0"], ["-3", "'-2+3"]]
