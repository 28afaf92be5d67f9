"""Build-number parsing: every notation, numeric order, product detection, BuildError for the rest."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exaudit.kb import Build, BuildError, load_kb, parse_build, product_of


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("15.1.2176.9", Build(15, 1, 2176, 9)),
        ("15.01.2176.009", Build(15, 1, 2176, 9)),
        ("Version 15.1 (Build 2176.9)", Build(15, 1, 2176, 9)),
        ("version 15.2 (build 986.5)", Build(15, 2, 986, 5)),
        ("Version 15.1 (Build 2176)", Build(15, 1, 2176, None)),
        ("15.1.2176", Build(15, 1, 2176, None)),
        ("15.02.0986", Build(15, 2, 986, None)),
        ("14.3.513.0", Build(14, 3, 513, 0)),
        ("14.03.0513.000", Build(14, 3, 513, 0)),
        ("  15.2.2562.17\n", Build(15, 2, 2562, 17)),
        ("15.0.1497.48", Build(15, 0, 1497, 48)),
    ],
)
def test_notations(text: str, expected: Build) -> None:
    assert parse_build(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "15",
        "15.1",
        "15.1.2176.9.1",
        "15.1.2176.x",
        "15,1,2176,9",
        "v15.1.2176.9",
        "15.1.2176.9 (Mar21SU)",
        "8.3.517.0",  # Exchange 2007
        "16.0.1.1",
        "15.3.1.1",
        "14.4.1.0",
        "15.1.99999.1",
        "15.1.2176.70000",
        "Version 15.1",
        "Version 15.1 Build 2176.9",
        "١٥.١.٢١٧٦.٩",  # non-ASCII digits
        "15.1.2176.9\x00",
    ],
)
def test_garbage_raises_build_error(text: str) -> None:
    with pytest.raises(BuildError):
        parse_build(text)


@pytest.mark.parametrize("value", [None, 15.1, 1521769, b"15.1.2176.9", ["15.1.2176.9"]])
def test_non_text_raises_build_error(value: object) -> None:
    with pytest.raises(BuildError):
        parse_build(value)


def test_error_message_is_short_and_names_the_input() -> None:
    with pytest.raises(BuildError) as info:
        parse_build("x" * 500)
    message = str(info.value)
    assert "xxxx" in message and len(message) < 200 and "\n" not in message


@pytest.mark.parametrize(
    ("text", "product"),
    [
        ("14.3.513.0", "2010"),
        ("14.0.639.21", "2010"),
        ("15.0.1497.48", "2013"),
        ("15.1.2507.6", "2016"),
        ("15.2.1748.10", "2019"),
        ("15.2.2561.99", "2019"),
        ("15.2.2562.17", "SE"),
        ("15.2.2562", "SE"),
        ("15.2.3000.1", "SE"),
    ],
)
def test_product(text: str, product: str) -> None:
    assert product_of(parse_build(text)) == product == parse_build(text).product


def test_order_is_numeric_per_component_not_textual() -> None:
    assert parse_build("15.1.2176.9") < parse_build("15.1.2176.12")  # "9" > "12" as text
    assert parse_build("15.2.986.5") < parse_build("15.2.1118.7")  # "986" > "1118" as text
    assert parse_build("15.1.2176") < parse_build("15.1.2176.0")
    assert sorted(map(parse_build, ["15.2.792.10", "15.2.792.3", "15.1.2507.6", "15.2.792"])) == [
        Build(15, 1, 2507, 6),
        Build(15, 2, 792, None),
        Build(15, 2, 792, 3),
        Build(15, 2, 792, 10),
    ]


def test_string_forms() -> None:
    build = parse_build("15.1.2176.9")
    assert str(build) == "15.1.2176.9"
    assert build.long() == "15.01.2176.009"
    assert build.admin_display() == "Version 15.1 (Build 2176.9)"
    assert str(parse_build("15.1.2176")) == "15.1.2176"
    assert not parse_build("15.1.2176").precise and build.precise


def test_every_packaged_build_round_trips() -> None:
    for row in load_kb().releases():
        for text in (str(row.build), row.build.long(), row.build.admin_display()):
            assert parse_build(text) == row.build


builds = st.builds(
    Build,
    major=st.just(15),
    minor=st.integers(0, 2),
    build=st.integers(0, 65535),
    revision=st.none() | st.integers(0, 65535),
) | st.builds(Build, major=st.just(14), minor=st.integers(0, 3), build=st.integers(0, 65535), revision=st.none() | st.integers(0, 65535))


@settings(max_examples=300, deadline=None)
@given(builds)
def test_round_trip_of_every_notation(build: Build) -> None:
    assert parse_build(str(build)) == build
    assert parse_build(build.long()) == build
    assert parse_build(build.admin_display()) == build
    assert parse_build(f"  {build} ") == build


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=40) | st.from_regex(r"[0-9.() a-zA-Z]{0,30}", fullmatch=True))
def test_garbage_never_raises_anything_but_build_error(text: str) -> None:
    try:
        build = parse_build(text)
    except BuildError:
        return
    assert str(build).count(".") in (2, 3)


@settings(max_examples=200, deadline=None)
@given(builds, builds)
def test_order_matches_integer_tuples(a: Build, b: Build) -> None:
    assert (a < b) == (a.sort_key < b.sort_key)
    assert (a == b) == (a.sort_key == b.sort_key)
