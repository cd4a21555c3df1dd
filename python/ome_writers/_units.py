"""Physical units: OME-NGFF names, accepted spellings, and OME-XML symbols.

`Dimension.unit` is stored as an OME-NGFF unit name (``"micrometer"``,
``"millisecond"``, ...). Users may also write the OME-XML symbol (``"µm"``,
``"ms"``) or a common abbreviation (``"um"``, ``"micron"``, ``"sec"``); these
helpers map every accepted spelling to the NGFF name, and NGFF names back to
OME-XML symbols for the TIFF metadata.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ome_writers._schema import DimensionType

__all__ = [
    "ANY_LENGTH_TO_NGFF",
    "ANY_TIME_TO_NGFF",
    "NGFF_TO_OME_UNITS",
    "NGFF_TO_OME_UNITS_LENGTH",
    "NGFF_TO_OME_UNITS_TIME",
    "cast_unit_to_ngff",
    "infer_dim_type_from_unit",
    "ngff_to_ome_unit",
]

# The 26 length units of the OME-NGFF axes specification, with the OME-XML
# `UnitsLength` symbol of each (OME has a few more that NGFF lacks).
NGFF_TO_OME_UNITS_LENGTH: dict[str, str] = {
    "angstrom": "Å",
    "attometer": "am",
    "centimeter": "cm",
    "decimeter": "dm",
    "exameter": "Em",
    "femtometer": "fm",
    "foot": "ft",
    "gigameter": "Gm",
    "hectometer": "hm",
    "inch": "in",
    "kilometer": "km",
    "megameter": "Mm",
    "meter": "m",
    "micrometer": "µm",
    "mile": "mi",
    "millimeter": "mm",
    "nanometer": "nm",
    "parsec": "pc",
    "petameter": "Pm",
    "picometer": "pm",
    "terameter": "Tm",
    "yard": "yd",
    "yoctometer": "ym",
    "yottameter": "Ym",
    "zeptometer": "zm",
    "zettameter": "Zm",
}
"""OME-NGFF length unit name → OME-XML `UnitsLength` symbol."""

# The 23 time units of the OME-NGFF axes specification → OME-XML `UnitsTime`.
NGFF_TO_OME_UNITS_TIME: dict[str, str] = {
    "attosecond": "as",
    "centisecond": "cs",
    "day": "d",
    "decisecond": "ds",
    "exasecond": "Es",
    "femtosecond": "fs",
    "gigasecond": "Gs",
    "hectosecond": "hs",
    "hour": "h",
    "kilosecond": "ks",
    "megasecond": "Ms",
    "microsecond": "µs",
    "millisecond": "ms",
    "minute": "min",
    "nanosecond": "ns",
    "petasecond": "Ps",
    "picosecond": "ps",
    "second": "s",
    "terasecond": "Ts",
    "yoctosecond": "ys",
    "yottasecond": "Ys",
    "zeptosecond": "zs",
    "zettasecond": "Zs",
}
"""OME-NGFF time unit name → OME-XML `UnitsTime` symbol."""

NGFF_TO_OME_UNITS: dict[str, str] = {
    **NGFF_TO_OME_UNITS_LENGTH,
    **NGFF_TO_OME_UNITS_TIME,
}
"""Every OME-NGFF unit name (length and time) → OME-XML symbol."""


def _spellings(table: dict[str, str], extra: dict[str, str]) -> dict[str, str]:
    # NGFF names map to themselves, OME symbols to their NGFF name.
    out = {name: name for name in table}
    out.update({symbol: name for name, symbol in table.items()})
    out.update(extra)
    return out


ANY_LENGTH_TO_NGFF: dict[str, str] = _spellings(
    NGFF_TO_OME_UNITS_LENGTH,
    {"um": "micrometer", "u": "micrometer", "micron": "micrometer", "A": "angstrom"},
)
"""Every accepted spelling of a length unit → its OME-NGFF name."""

ANY_TIME_TO_NGFF: dict[str, str] = _spellings(
    NGFF_TO_OME_UNITS_TIME,
    {
        "us": "microsecond",
        "usec": "microsecond",
        "µsec": "microsecond",
        "msec": "millisecond",
        "sec": "second",
    },
)
"""Every accepted spelling of a time unit → its OME-NGFF name."""

# GREEK SMALL LETTER MU is often typed for MICRO SIGN; OME uses the latter.
_GREEK_MU = "\u03bc"
_MICRO_SIGN = "\u00b5"


def _lookup_key(unit: str) -> str:
    """Normalise a user-supplied unit spelling for table lookup.

    Symbols of one or two characters are case-sensitive (``"mm"`` is a
    millimeter, ``"Mm"`` a megameter; ``"ms"`` vs ``"Ms"``), longer spellings
    are not.
    """
    key = unit.strip().replace(_GREEK_MU, _MICRO_SIGN)
    return key.lower() if len(key) > 2 else key


def infer_dim_type_from_unit(unit: str | None) -> DimensionType | None:
    """Return ``"space"`` or ``"time"`` if `unit` is a known unit, else None."""
    if not isinstance(unit, str):
        return None
    key = _lookup_key(unit)
    if key in ANY_LENGTH_TO_NGFF:
        return "space"
    if key in ANY_TIME_TO_NGFF:
        return "time"
    return None


def cast_unit_to_ngff(unit: str, dim_type: DimensionType | None) -> str:
    """Return the OME-NGFF name of `unit` for a dimension of type `dim_type`.

    For ``"space"`` and ``"time"`` dimensions the unit must be a recognised
    length or time unit (ValueError otherwise). For any other type the unit is
    free text and returned unchanged. The type is not inferred here.
    """
    if dim_type == "space":
        table, kind = ANY_LENGTH_TO_NGFF, "length"
    elif dim_type == "time":
        table, kind = ANY_TIME_TO_NGFF, "time"
    else:
        return unit
    try:
        return table[_lookup_key(unit)]
    except KeyError:
        raise ValueError(
            f"Unrecognized unit of {kind}: {unit!r}.\n  "
            f"Recognized units of {kind} include: {list(table)}"
        ) from None


def ngff_to_ome_unit(unit: str) -> str | None:
    """Return the OME-XML symbol of an OME-NGFF unit name.

    An unknown name gives a UserWarning and None: the unit is then left out of
    the OME-XML metadata.
    """
    symbol = NGFF_TO_OME_UNITS.get(unit)
    if symbol is None:
        warnings.warn(
            f"Unit {unit!r} is not an OME-NGFF length or time unit. "
            "Will not be written to OME-XML metadata.",
            UserWarning,
            stacklevel=2,
        )
    return symbol
