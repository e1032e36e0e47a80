"""Model time: one step is one quarter, step 0 is 2014 Q1.

The simulation starts in the first quarter of 2014 (the coordinated-development strategy
became national policy in Feb 2014; shared/reference/reported-figures.md) from the end-2013
firm stock, and may run to the end of 2035 at the latest (the planning horizon users asked
for). Dated inputs ("YYYY-MM") take effect in the quarter that contains that month.
"""

from __future__ import annotations

import re

from jjj_sim.core.errors import ConfigError

START_YEAR = 2014
MAX_END_YEAR = 2035
QUARTERS_PER_YEAR = 4

_DATE = re.compile(r"^(\d{4})-(\d{1,2})$")


def quarter_of(date: str | int, field: str) -> int:
    """Quarter index (0 = 2014 Q1) of a ``YYYY-MM`` date or a bare year (its January).

    Dates before 2014 give negative indices (in force from the start). Raises ConfigError
    naming ``field`` for a malformed date or one after the horizon.
    """
    text = str(date).strip()
    if re.fullmatch(r"\d{4}", text):
        text += "-01"
    m = _DATE.match(text)
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise ConfigError(field, f"'{date}' is not a date of the form YYYY-MM")
    year, month = int(m.group(1)), int(m.group(2))
    if year > MAX_END_YEAR:
        raise ConfigError(field, f"'{date}' is after the model horizon (end of {MAX_END_YEAR})")
    return (year - START_YEAR) * QUARTERS_PER_YEAR + (month - 1) // 3


def horizon_quarter(date: str | int, field: str) -> int:
    """``quarter_of`` for a dated input of a scenario (a lever's schedule, a new rail link):
    it must fall inside the horizon, 2014-01 to 2035-12 (data such as rail_links.csv may hold
    earlier dates: those links are open from the start)."""
    q = quarter_of(date, field)
    if q < 0:
        raise ConfigError(field, f"'{date}' is before the model starts ({START_YEAR}-01): a lever takes effect "
                                 f"from {START_YEAR}-01 to {MAX_END_YEAR}-12")
    return q


def year_of(quarter: int) -> int:
    """Calendar year of quarter index ``quarter`` (0 = 2014 Q1; -1 = 2013 Q4 gives 2013)."""
    return START_YEAR + quarter // QUARTERS_PER_YEAR


def last_quarter(end_year: int) -> int:
    """Index of the fourth quarter of ``end_year``."""
    return (end_year - START_YEAR) * QUARTERS_PER_YEAR + QUARTERS_PER_YEAR - 1


def quarter_end_date(quarter: int) -> str:
    """ISO date of the last day of the quarter."""
    year = year_of(quarter)
    q = quarter % QUARTERS_PER_YEAR
    return f"{year}-{('03-31', '06-30', '09-30', '12-31')[q]}"
