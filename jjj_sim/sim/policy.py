"""Policy levers: dated schedules compiled from the ``policy`` config into per-quarter state.

A schedule is a list of ``{from: YYYY-MM, value: x}``. The value holds from the quarter that
contains that month until the next entry; before the first entry a lever is 0 (off). Lever
values are intensities (1 = the reported policy); the size of each lever's effect on
behaviour is a parameter in ``conf/params`` (see docs/ODD.md, "Policy levers").

Levers (``conf/policy/reported.yaml`` has the reported schedules with their dates):
- ``closure_campaign``: places, sectors, schedule -> intensity of the campaign (its pace through
  the campaign list, rules/closure.py); optional ``new_list``: [{from, value}] adds ``value``
  real firms to the list in that quarter.
- ``negative_list``: places, sectors, schedule -> no births of listed sectors there (value > 0),
  and no relocation or branch of a listed-sector firm into those places.
- ``relocation_push``: places, schedule -> extra relocation hazard of firms there.
- ``matching``: places, schedule -> lower cross-border friction toward those places.
- ``incentives``: named entries {places, sectors ('all', 'specialised' or a list), schedule}
  -> incentive level by place x sector (entries add up).
- ``hebei_decapacity``: places, sectors, schedule of steel capacity cut per year (Mt) ->
  closures of those sectors' firms there in proportion to the capacity cut, and no new firms
  of those sectors there while it is in force (rules/hebei.py).
- ``hebei_hightech``: schedule -> intensity of Hebei's own high-tech upgrading (rules/hebei.py).
- ``business_environment``: schedule -> share of the reform programme done (lowers friction).
- ``basic_research``, ``innovation_community``: schedules -> technology-transfer and
  branching boosts.
- ``rail.extra_links``: list of {region, opens, and optionally hours (in-train time) or
  speed_kmh (average in-train speed)} added to the rail-link data;
  ``rail.speedup``: schedule -> share of in-train time saved on every link (faster
  services), below 0.9; ``rail.speedups``: named entries {region, opens (optional: only the
  link that opened that month), schedule} -> share of in-train time saved on that region's
  links (or that one link), below 0.9; combined with the national one multiplicatively.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from jjj_sim.core.errors import ConfigError
from jjj_sim.core.timeline import horizon_quarter
from jjj_sim.sim.world import Places, RailLink, Sectors, load_rail_links, rail_hours

# The largest value a lever may take, with the reason (values are intensities, 1 = the policy
# as reported, unless the lever says otherwise)
MAX_INTENSITY = 100.0  # 100 times the reported policy: beyond any scale reported for a lever
# Hebei's steel capacity was about 286 Mt at the end of 2013: the 181 Mt left in 2020 plus the
# cuts of 2014-2020 in conf/policy/reported.yaml (15 + 7.51 + 82.124 Mt): no year can cut more
MAX_DECAPACITY_MT = 286.0
MAX_NEW_LIST = 100_000.0  # firms added to the campaign list at once: the bound of params.closure.list_size


class Schedule:
    """Step function of the quarter index: ``{from: YYYY-MM, value}`` entries, dated within the
    horizon, with values from 0 to ``high``."""

    def __init__(self, entries, field: str, high: float = MAX_INTENSITY):
        if entries is None:
            entries = []
        if isinstance(entries, (str, bytes)) or not hasattr(entries, "__iter__"):
            raise ConfigError(field, "a schedule is a list of {from: YYYY-MM, value: number}")
        quarters, values = [], []
        for i, e in enumerate(entries):
            f = f"{field}[{i}]"
            if not hasattr(e, "get") or "from" not in e or "value" not in e:
                raise ConfigError(f, "each schedule entry needs 'from' (YYYY-MM) and 'value'")
            try:
                v = float(e["value"])
            except (TypeError, ValueError):
                raise ConfigError(f"{f}.value", f"'{e['value']}' is not a number") from None
            if not np.isfinite(v) or not 0 <= v <= high:
                raise ConfigError(f"{f}.value", f"must be a number from 0 to {high:g}, got {e['value']}")
            quarters.append(horizon_quarter(e["from"], f"{f}.from"))
            values.append(v)
        if any(b <= a for a, b in zip(quarters, quarters[1:])):
            raise ConfigError(field, "schedule dates must be strictly increasing (by quarter)")
        self.quarters = np.array(quarters, dtype=np.int64)
        self.values = np.array(values, dtype=float)

    def starts_at(self, quarter: int) -> float:
        """The value of an entry that starts in ``quarter`` (0 if none does): one-off events."""
        hit = np.flatnonzero(self.quarters == quarter)
        return float(self.values[hit[0]]) if len(hit) else 0.0

    def at(self, quarter: int) -> float:
        """The value in force in ``quarter``: the latest entry that started by then (0 before the first)."""
        i = np.searchsorted(self.quarters, quarter, side="right") - 1
        return float(self.values[i]) if i >= 0 else 0.0


@dataclass
class PolicyState:
    """Lever values in force in one quarter."""

    closure: float
    closure_new_list: float  # real firms added to the campaign list this quarter
    closure_places: np.ndarray  # bool [P]
    closure_sectors: np.ndarray  # bool [S]
    negative_list_places: np.ndarray  # bool [P] (all False when the list is not in force)
    negative_list_sectors: np.ndarray  # bool [S]
    push: np.ndarray  # float [P]
    matching: np.ndarray  # float [P]
    incentive: np.ndarray  # float [P, S]
    decapacity_mt: float  # Hebei: steel capacity cut this year, Mt (applied a quarter at a time)
    decapacity_places: np.ndarray  # bool [P]
    decapacity_sectors: np.ndarray  # bool [S]
    hightech_drive: float  # intensity of Hebei's own high-tech upgrading (1 = as reported)
    business_environment: float
    rail_speedup: float
    rail_link_speedups: tuple  # ((region id, opens or '', share saved), ...) in force
    basic_research: float
    innovation_community: float

    def blank(self) -> PolicyState:
        """The same joint levers, with every place-scoped lever off (filled in by governments)."""
        return replace(self, closure_places=np.zeros_like(self.closure_places),
                       negative_list_places=np.zeros_like(self.negative_list_places),
                       push=np.zeros_like(self.push), matching=np.zeros_like(self.matching),
                       decapacity_places=np.zeros_like(self.decapacity_places),
                       incentive=np.zeros_like(self.incentive))

    def blocked(self) -> np.ndarray:
        """bool [P, S]: new firms of sector s may not settle in place p."""
        blocked = np.outer(self.negative_list_places, self.negative_list_sectors)
        if self.decapacity_mt > 0:  # no new capacity in the sectors being cut
            blocked |= np.outer(self.decapacity_places, self.decapacity_sectors)
        return blocked


class Policy:
    """The compiled ``policy`` config."""

    def __init__(self, cfg, places: Places, sectors: Sectors):
        self.places, self.sectors = places, sectors

        def scoped(name, with_sectors=True):
            lever = cfg.get(name)
            if lever is None:
                raise ConfigError(f"policy.{name}", "missing lever")
            places_mask = places.select(lever.get("places", []), f"policy.{name}.places")
            sectors_mask = sectors.mask(lever.get("sectors", "all"), f"policy.{name}.sectors") if with_sectors else None
            high = MAX_DECAPACITY_MT if name == "hebei_decapacity" else MAX_INTENSITY
            return places_mask, sectors_mask, Schedule(lever.get("schedule"), f"policy.{name}.schedule", high)

        self.closure = scoped("closure_campaign")
        self.closure_new_list = Schedule(cfg.closure_campaign.get("new_list"), "policy.closure_campaign.new_list",
                                         MAX_NEW_LIST)
        self.negative_list = scoped("negative_list")
        self.push = scoped("relocation_push", with_sectors=False)
        self.matching = scoped("matching", with_sectors=False)
        self.decapacity = scoped("hebei_decapacity")
        self.hightech_drive = Schedule((cfg.get("hebei_hightech") or {}).get("schedule"), "policy.hebei_hightech.schedule")
        self.incentives = []
        for name, entry in (cfg.get("incentives") or {}).items():
            field = f"policy.incentives.{name}"
            pm = places.select(entry.get("places", []), f"{field}.places")
            spec = entry.get("sectors", "all")
            if spec == "specialised":
                sm = places.specialised & pm[:, None]
            else:
                sm = np.outer(pm, sectors.mask(spec, f"{field}.sectors"))
            self.incentives.append((sm.astype(float), Schedule(entry.get("schedule"), f"{field}.schedule")))
        self.business_environment = Schedule(cfg.get("business_environment", {}).get("schedule"),
                                             "policy.business_environment.schedule")
        self.basic_research = Schedule(cfg.get("basic_research", {}).get("schedule"), "policy.basic_research.schedule")
        self.innovation_community = Schedule(cfg.get("innovation_community", {}).get("schedule"),
                                             "policy.innovation_community.schedule")
        rail_cfg = cfg.get("rail") or {}
        self.rail_speedup = Schedule((rail_cfg.get("speedup") or {}).get("schedule"), "policy.rail.speedup.schedule")
        if np.any(self.rail_speedup.values >= 0.9):
            raise ConfigError("policy.rail.speedup.schedule", "a share of in-train time saved must be below 0.9")
        self.extra_rail_links = []
        for i, link in enumerate(rail_cfg.get("extra_links") or []):
            field = f"policy.rail.extra_links[{i}]"
            if not hasattr(link, "get") or "region" not in link or "opens" not in link:
                raise ConfigError(field, "each extra rail link needs 'region' and 'opens' (YYYY-MM)")
            unknown = set(link) - {"region", "opens", "hours", "speed_kmh", "via"}
            if unknown:
                raise ConfigError(f"{field}.{sorted(unknown)[0]}", "unknown key (keys: region, opens, hours, speed_kmh, via)")
            self._region(link["region"], f"{field}.region")
            horizon_quarter(link["opens"], f"{field}.opens")
            hours = rail_hours(link.get("hours"), f"{field}.hours")
            speed = rail_hours(link.get("speed_kmh"), f"{field}.speed_kmh")
            if hours is not None and speed is not None:
                raise ConfigError(field, "give either 'hours' or 'speed_kmh', not both")
            via = str(link.get("via") or "")
            if via:
                self._region(via, f"{field}.via")
            self.extra_rail_links.append(RailLink(str(link["region"]), str(link["opens"]), via, hours, speed))
        links = load_rail_links() + self.extra_rail_links
        self.rail_speedups = []
        for name, entry in (rail_cfg.get("speedups") or {}).items():
            field = f"policy.rail.speedups.{name}"
            if not hasattr(entry, "get") or "region" not in entry:
                raise ConfigError(field, "needs 'region', 'schedule' and optionally 'opens' (one link)")
            unknown = set(entry) - {"region", "opens", "schedule"}
            if unknown:
                raise ConfigError(f"{field}.{sorted(unknown)[0]}", "unknown key (keys: region, opens, schedule)")
            region = self._region(entry["region"], f"{field}.region")
            own = [lk.opens for lk in links if lk.region == region]
            if not own:
                raise ConfigError(f"{field}.region", f"'{region}' has no rail link to speed up (add one in rail.extra_links)")
            opens = str(entry.get("opens") or "")
            if opens and opens not in own:
                raise ConfigError(f"{field}.opens", f"no link to {region} opened {opens} (its links opened: {', '.join(own)})")
            sched = Schedule(entry.get("schedule"), f"{field}.schedule")
            if np.any(sched.values >= 0.9):
                raise ConfigError(f"{field}.schedule", "a share of in-train time saved must be below 0.9")
            self.rail_speedups.append((region, opens, sched))
        self._states: dict[int, PolicyState] = {}  # quarter -> compiled state (``state``)

    def _region(self, value, field: str) -> str:
        i = self.places.index(str(value), field)
        if self.places.is_park[i]:
            raise ConfigError(field, f"'{value}' is a park; rail links go to regions")
        return str(value)

    def state(self, quarter: int) -> PolicyState:
        """Lever values in force in ``quarter``: compiled the first time it is asked for, then
        shared (its arrays are read-only; ``PolicyState.blank`` gives writable ones)."""
        st = self._states.get(quarter)
        if st is None:
            st = self._states[quarter] = self._compile_state(quarter)
            for v in vars(st).values():
                if isinstance(v, np.ndarray):
                    v.flags.writeable = False
        return st

    def _compile_state(self, quarter: int) -> PolicyState:
        cp, cs, csched = self.closure
        npl, nsec, nsched = self.negative_list
        pp, _, psched = self.push
        mp, _, msched = self.matching
        incentive = np.zeros((len(self.places.ids), len(self.sectors.ids)))
        for mask, sched in self.incentives:
            v = sched.at(quarter)
            if v:
                incentive += v * mask
        neg_on = nsched.at(quarter) > 0
        dp, ds, dsched = self.decapacity
        return PolicyState(
            closure=csched.at(quarter),
            closure_new_list=self.closure_new_list.starts_at(quarter),
            closure_places=cp,
            closure_sectors=cs,
            negative_list_places=npl & neg_on,
            negative_list_sectors=nsec,
            push=pp * psched.at(quarter),
            matching=mp * msched.at(quarter),
            incentive=incentive,
            decapacity_mt=dsched.at(quarter),
            decapacity_places=dp,
            decapacity_sectors=ds,
            hightech_drive=self.hightech_drive.at(quarter),
            business_environment=self.business_environment.at(quarter),
            rail_speedup=self.rail_speedup.at(quarter),
            rail_link_speedups=tuple((r, o, v) for r, o, sched in self.rail_speedups if (v := sched.at(quarter)) > 0),
            basic_research=self.basic_research.at(quarter),
            innovation_community=self.innovation_community.at(quarter),
        )
