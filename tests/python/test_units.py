"""Unit tables, spelling resolution and Dimension unit handling."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from ome_writers._schema import Dimension
from ome_writers._units import (
    ANY_LENGTH_TO_NGFF,
    ANY_TIME_TO_NGFF,
    NGFF_TO_OME_UNITS,
    NGFF_TO_OME_UNITS_LENGTH,
    NGFF_TO_OME_UNITS_TIME,
    cast_unit_to_ngff,
    infer_dim_type_from_unit,
    ngff_to_ome_unit,
)

# The unit names of the OME-NGFF axes specification (v0.5).
NGFF_LENGTH = {
    "angstrom", "attometer", "centimeter", "decimeter", "exameter", "femtometer",
    "foot", "gigameter", "hectometer", "inch", "kilometer", "megameter", "meter",
    "micrometer", "mile", "millimeter", "nanometer", "parsec", "petameter",
    "picometer", "terameter", "yard", "yoctometer", "yottameter", "zeptometer",
    "zettameter",
}  # fmt: skip
NGFF_TIME = {
    "attosecond", "centisecond", "day", "decisecond", "exasecond", "femtosecond",
    "gigasecond", "hectosecond", "hour", "kilosecond", "megasecond", "microsecond",
    "millisecond", "minute", "nanosecond", "petasecond", "picosecond", "second",
    "terasecond", "yoctosecond", "yottasecond", "zeptosecond", "zettasecond",
}  # fmt: skip


def test_tables_hold_exactly_the_ngff_units() -> None:
    assert set(NGFF_TO_OME_UNITS_LENGTH) == NGFF_LENGTH
    assert len(NGFF_TO_OME_UNITS_LENGTH) == 26
    assert set(NGFF_TO_OME_UNITS_TIME) == NGFF_TIME
    assert len(NGFF_TO_OME_UNITS_TIME) == 23
    assert NGFF_TO_OME_UNITS == {**NGFF_TO_OME_UNITS_LENGTH, **NGFF_TO_OME_UNITS_TIME}


def test_ome_symbols_are_distinct() -> None:
    # A symbol shared by two units would make the reverse lookup ambiguous.
    symbols = list(NGFF_TO_OME_UNITS.values())
    assert len(symbols) == len(set(symbols))


def test_spelling_tables_are_consistent() -> None:
    assert not set(ANY_LENGTH_TO_NGFF) & set(ANY_TIME_TO_NGFF)
    assert set(ANY_LENGTH_TO_NGFF.values()) == NGFF_LENGTH
    assert set(ANY_TIME_TO_NGFF.values()) == NGFF_TIME
    for name, symbol in NGFF_TO_OME_UNITS_LENGTH.items():
        assert ANY_LENGTH_TO_NGFF[name] == name
        assert ANY_LENGTH_TO_NGFF[symbol] == name
    for name, symbol in NGFF_TO_OME_UNITS_TIME.items():
        assert ANY_TIME_TO_NGFF[name] == name
        assert ANY_TIME_TO_NGFF[symbol] == name


@pytest.mark.parametrize(
    ("ngff", "symbol"),
    [
        ("micrometer", "µm"),
        ("nanometer", "nm"),
        ("millimeter", "mm"),
        ("megameter", "Mm"),
        ("meter", "m"),
        ("angstrom", "Å"),
        ("inch", "in"),
        ("second", "s"),
        ("millisecond", "ms"),
        ("megasecond", "Ms"),
        ("microsecond", "µs"),
        ("minute", "min"),
        ("hour", "h"),
        ("day", "d"),
    ],
)
def test_ngff_to_ome_unit(ngff: str, symbol: str) -> None:
    assert ngff_to_ome_unit(ngff) == symbol


def test_ngff_to_ome_unit_unknown_warns_and_returns_none() -> None:
    with pytest.warns(UserWarning, match="Will not be written to OME-XML metadata"):
        assert ngff_to_ome_unit("furlong") is None
    # symbols are not NGFF names
    with pytest.warns(UserWarning, match="'um'"):
        assert ngff_to_ome_unit("um") is None


@pytest.mark.parametrize(
    ("spelling", "kind", "ngff"),
    [
        ("micrometer", "space", "micrometer"),
        ("Micrometer", "space", "micrometer"),
        ("MICROMETER", "space", "micrometer"),
        ("µm", "space", "micrometer"),
        ("\u03bcm", "space", "micrometer"),  # Greek mu typed for the micro sign
        ("um", "space", "micrometer"),
        ("u", "space", "micrometer"),
        ("micron", "space", "micrometer"),
        ("Micron", "space", "micrometer"),
        ("nm", "space", "nanometer"),
        ("mm", "space", "millimeter"),
        ("Mm", "space", "megameter"),
        ("m", "space", "meter"),
        ("A", "space", "angstrom"),
        ("Å", "space", "angstrom"),
        ("ft", "space", "foot"),
        ("s", "time", "second"),
        ("sec", "time", "second"),
        ("SEC", "time", "second"),
        ("ms", "time", "millisecond"),
        ("msec", "time", "millisecond"),
        ("Ms", "time", "megasecond"),
        ("µs", "time", "microsecond"),
        ("us", "time", "microsecond"),
        ("usec", "time", "microsecond"),
        ("µsec", "time", "microsecond"),
        ("min", "time", "minute"),
        ("h", "time", "hour"),
        ("d", "time", "day"),
    ],
)
def test_spellings_resolve(spelling: str, kind: str, ngff: str) -> None:
    assert infer_dim_type_from_unit(spelling) == kind
    assert cast_unit_to_ngff(spelling, kind) == ngff  # type: ignore[arg-type]


@pytest.mark.parametrize("spelling", ["MM", "UM", "MS", "furlong", "", "pixel"])
def test_unknown_or_wrong_case_short_symbols_are_not_units(spelling: str) -> None:
    # one/two-letter symbols are case-sensitive: "MM" is neither mm nor Mm
    assert infer_dim_type_from_unit(spelling) is None


def test_infer_dim_type_from_non_units() -> None:
    assert infer_dim_type_from_unit(None) is None
    assert infer_dim_type_from_unit(5) is None  # type: ignore[arg-type]


def test_cast_unit_wrong_kind_raises_listing_units() -> None:
    with pytest.raises(ValueError, match="Unrecognized unit of length: 's'") as exc:
        cast_unit_to_ngff("s", "space")
    assert "'micrometer'" in str(exc.value)
    with pytest.raises(ValueError, match="Unrecognized unit of time: 'um'") as exc:
        cast_unit_to_ngff("um", "time")
    assert "'millisecond'" in str(exc.value)


@pytest.mark.parametrize("kind", ["channel", "position", "other", None])
def test_cast_unit_free_text_for_other_types(kind: str | None) -> None:
    assert cast_unit_to_ngff("um", kind) == "um"  # type: ignore[arg-type]
    assert cast_unit_to_ngff("volts", kind) == "volts"  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("unit", "dim_type", "expected_unit", "expected_type"),
    [
        ("micrometer", "space", "micrometer", "space"),
        ("um", "space", "micrometer", "space"),
        ("µm", "space", "micrometer", "space"),
        ("micron", "space", "micrometer", "space"),
        ("ms", "time", "millisecond", "time"),
        ("msec", "time", "millisecond", "time"),
        ("sec", "time", "second", "time"),
        (None, "space", None, "space"),
        (None, None, None, None),
        # type inferred from a recognised unit
        ("um", None, "micrometer", "space"),
        ("nanometer", None, "nanometer", "space"),
        ("s", None, "second", "time"),
        ("min", None, "minute", "time"),
        # unknown unit with no type: left alone, type not inferable
        ("volts", None, "volts", None),
        # non space/time types keep their unit verbatim
        ("um", "other", "um", "other"),
        ("a.u.", "channel", "a.u.", "channel"),
    ],
)
def test_dimension_unit_and_type(
    unit: str | None,
    dim_type: str | None,
    expected_unit: str | None,
    expected_type: str | None,
) -> None:
    dim = Dimension(name="d", type=dim_type, unit=unit)  # type: ignore[arg-type]
    assert dim.unit == expected_unit
    assert dim.type == expected_type


@pytest.mark.parametrize(
    ("unit", "dim_type", "message"),
    [
        ("not-a-length", "space", "Unrecognized unit of length"),
        ("not-a-time", "time", "Unrecognized unit of time"),
        ("s", "space", "Unrecognized unit of length"),
        ("um", "time", "Unrecognized unit of time"),
    ],
)
def test_dimension_rejects_wrong_units(unit: str, dim_type: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Dimension(name="d", type=dim_type, unit=unit)  # type: ignore[arg-type]


def test_unit_assignment_is_cast_and_checked() -> None:
    dim = Dimension(name="z", type="space", count=3)
    dim.unit = "um"
    assert dim.unit == "micrometer"
    with pytest.raises(ValidationError, match="Unrecognized unit of length"):
        dim.unit = "sec"
    assert dim.unit == "micrometer"  # failed assignment rolled back

    # changing the type re-checks the unit
    with pytest.raises(ValidationError, match="Unrecognized unit of time"):
        dim.type = "time"
    assert dim.type == "space"
