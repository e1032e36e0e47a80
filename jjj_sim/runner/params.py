"""The model's parameters and their bounds: ``PARAM_RULES`` (every parameter under ``params``,
with the Range and its reason), the parks' own offsets (``param_rule``), the population's
bounds, and ``param_range``, a [low, high] a tool samples or fits checked against them.
"""

from __future__ import annotations

from jjj_sim.core.checks import (
    BOOST,
    COEF,
    HALF_LIFE,
    LIST,
    NONNEG,
    POSITIVE,
    PROB,
    ListOf,
    ParamRange,
    Range,
    check_value,
)
from jjj_sim.core.errors import ConfigError
from jjj_sim.sim.world import PROVINCES, park_ids


def param_range(name: str, low, high, log: bool = False, field: str | None = None,
                bounds_field: str | None = None) -> ParamRange:
    """A checked ParamRange of a real-valued parameter (dotted name under params): known,
    real-valued, low and high valid values of it, low < high, low > 0 on a log scale.
    ``field`` names the entry in errors; ``bounds_field`` the bounds (default field.low/.high)."""

    field = field or f"params.{name}"
    rule = param_rule(name)
    if rule is None or isinstance(rule, ListOf) or getattr(rule, "whole", False):
        raise ConfigError(field, "not a real-valued model parameter")
    check_value(low, rule, bounds_field or f"{field}.low")
    check_value(high, rule, bounds_field or f"{field}.high")
    low, high = float(low), float(high)
    if not low < high:
        raise ConfigError(field, f"low ({low:g}) must be below high ({high:g})")
    if log and low <= 0:
        raise ConfigError(bounds_field or f"{field}.low", "must be > 0 on a log scale")
    return ParamRange(name, low, high, log)


# The bounds of each parameter (dotted, under params). The reasons are in the Range.
PARAM_RULES: dict[str, Range | ListOf] = {
    "closure.list_size": LIST,
    "closure.annual_pace": Range(0, 100_000, "firms handled a year: a pace above the list's own bound clears any "
                                             "list in its first quarter (the record: 300-650 a year)"),
    "closure.polluting_multiplier": Range(0, 100, "100 times as likely puts every listed polluting firm first",
                                          open_low=True),
    "closure.relocate_share": PROB,
    "relocation.origin_provinces": ListOf(tuple(PROVINCES), "provinces"), "relocation.base_quarterly_hazard": PROB,
    "relocation.cost_elasticity": Range(-20, 20, "the hazard scales with cost level (0.2-1) to this power: 20 "
                                                 "divides it by 10^14 at 0.2"),
    "relocation.push_effect": BOOST,
    "branching.zgc_quarterly_hazard": PROB, "branching.hightech_quarterly_hazard": PROB,
    "branching.other_quarterly_hazard": PROB, "branching.innovation_community_boost": BOOST,
    "branching.repeat_factor": PROB,
    "choice.sample_size": Range(1, 1000, "alternatives sampled of 35 places: a larger sample takes them all",
                                whole=True),
    "choice.asc_tianjin": COEF, "choice.asc_hebei": COEF, "choice.asc_xiongan": COEF,
    "choice.size_coefficient": Range(0, 10, "1 keeps the shares unchanged when a place is split; 10 already gives "
                                            "the largest place every firm"),
    "choice.beta_travel_time": COEF, "choice.beta_cost": COEF, "choice.beta_agglomeration": COEF,
    "choice.beta_specialisation": COEF, "choice.beta_incentive": COEF,
    "choice.asc_park_science": COEF, "choice.asc_park_industrial": COEF,
    "choice.beta_border": COEF, "choice.beta_stay": COEF,
    "choice.friction_reduction": PROB, "choice.matching_reduction": PROB,
    "choice.park_rampup_years": Range(0, 30, "years over which a park's pull builds up: 30 is past the horizon "
                                             "(2014-2035), a park that never reaches full pull"),
    "demography.exit_annual_rate": PROB, "demography.growth_half_life_years": HALF_LIFE,
    "demography.growth_half_life_low": HALF_LIFE, "demography.growth_half_life_high": HALF_LIFE,
    "demography.negative_list_coverage": PROB, "demography.negative_list_deterrence_half_life_years": HALF_LIFE,
    "technology.link_elasticity": Range(0, 10, "contracts scale with (ZGC branches / 3,500) to this power and the "
                                               "branches triple by 2023: 10 is a 59,000-fold rise"),
    "technology.basic_research_boost": BOOST, "technology.innovation_community_boost": BOOST,
    "technology.value_growth_annual": Range(-1, 10, "growth a year of turnover per contract: -100% (none left) to "
                                                    "+1,000% (the fitted rate is near 15%)"),
    "structure.hightech_excess_growth_annual": Range(0, 1, "100% a year above Hebei's other firms (the record: "
                                                           "8.85%)"),
    "parks.capacity_scale": Range(0, 100, "100 times a park's physical capacity (Xiong'an ZGC's phase one)"),
    "parks.prior_sd": Range(0, 10, "a spread of e^10 = 22,000-fold among parks of one type, beyond any reported"),
    "world.circuity": Range(1, 5, "a route is never shorter than the great circle (1); road circuity factors are "
                                  "1.1-1.6 (Ballou et al. 2002)"),
    "world.road_speed_kmh": Range(0, 200, "door to door, above any road's speed limit (120 km/h in China)",
                                  open_low=True),
    "world.rail_speed_kmh": Range(0, 600, "average in-train speed; the fastest trains in service run 350 km/h",
                                  open_low=True),
    "world.rail_access_hours": Range(0, 24, "hours to reach, wait at and leave stations: at most a day"),
    "world.cost_decay_km": Range(0, 10_000, "the region spans about 800 km: beyond 10,000 km cost levels are flat",
                                 open_low=True),
    "world.tianjin_cost_ratio": Range(0, 10, "Tianjin's cost level against Beijing's (the fitted value is below 1)"),
}


# Parameters named by a park: PREFIX + park id (parks.csv), each checked by its rule.
PARK_PARAM_RULES = {"parks.asc_offset.": COEF}


def param_rule(name: str) -> Range | ListOf | None:
    """The check rule of parameter ``name`` (dotted, under params), or None if it is not one."""
    if name in PARAM_RULES:
        return PARAM_RULES[name]
    for prefix, rule in PARK_PARAM_RULES.items():
        if name.startswith(prefix) and name[len(prefix):] in park_ids():
            return rule
    return None


POPULATION_RULES = {"scale": POSITIVE, "size_median": POSITIVE, "size_sigma": NONNEG,
                    "zgc_share_of_beijing_hightech": PROB}


MAX_SCALE = 10.0  # 10x the real region (about 50 M rows by 2035): beyond a 24 GiB machine


MIN_SCALE = 0.001  # about 1,300 simulated firms in 2014; below it parks and sectors are empty and shares 0/0


# firm sizes (employees, lognormal): a median firm of 1 to 100,000 employees, and a log-sd of at
# most 4 (a factor e^4 = 55 per sd; measured firm-size distributions are near 1-2.5, Axtell 2001):
# beyond these the size weights overflow or vanish and the share indicators become 0/0
MAX_SIZE_MEDIAN = 100_000


MAX_SIZE_SIGMA = 4.0
