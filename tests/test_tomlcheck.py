"""The problem-collecting TOML checker shared by the config and the spec loader."""

from __future__ import annotations

from decimal import Decimal

from relay.tomlcheck import Checker


def test_every_problem_is_kept_with_its_key_path_and_reading_goes_on() -> None:
    check = Checker()
    data = {"t": {"n": "x", "list": [1], "d": "-1", "extra": 1, "pick": "c"}, "s": 5}
    table = check.table(data, "t", "")
    check.unknown(table, {"n", "list", "d", "pick"}, "t")
    assert check.integer(table, "n", "t", 7) == 0
    assert check.strings(table, "list", "t") == ()
    assert check.decimal(table, "d", "t", "0") == Decimal("0")
    assert check.choice(table, "pick", "t", ("a", "b")) == "a"
    assert check.string(data, "s", "", "fallback") == "fallback"
    assert check.string(data, "missing", "") == ""
    assert check.table(data, "s", "") == {}
    assert check.problems == [
        ("t.extra", "unknown key"),
        ("t.n", "must be an integer"),
        ("t.list", "must be a list of strings"),
        ("t.d", "must be a finite number ≥ 0"),
        ("t.pick", "must be one of 'a', 'b'"),
        ("s", "must be a string"),
        ("missing", "is required"),
        ("s", "must be a table"),
    ]


def test_a_lone_string_list_and_a_text_hook() -> None:
    class Upper(Checker):
        def text(self, key: str, value: str) -> str:
            return f"{key}={value.upper()}"

    check = Upper(lone_strings=True)
    assert check.strings({"a": "x"}, "a", "t") == ("t.a[0]=X",)
    assert check.string({"b": "y"}, "b", "t") == "t.b=Y"
    assert Checker().strings({"a": "x"}, "a", "t") == ()  # specs write lists as lists
    assert check.problems == []
