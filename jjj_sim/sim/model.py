"""RelocationModel: the Mesa model of industrial relocation in Beijing-Tianjin-Hebei.

Firms live in a columnar table (``population.FirmTable``), processed by vectorised rules;
parks and regional governments are Mesa agents. One step is one quarter; step k (Mesa's
``steps`` = k) simulates quarter k - 1, quarter 0 being 2014 Q1.

Every change to the firm table goes through ``add_firms``, ``move_firms`` and
``remove_firms``, which keep the per-place tallies, the cumulative counters and the event
log in step with the table, so indicators are read off the tallies in O(places x sectors).

Each rule sees only its context (``rules/*.py``: ``ClosureContext`` ...): the state it reads,
built here each quarter from references (no copies), with the model as its ``changes``
(``rules.changes.FirmChanges``). State a rule carries from quarter to quarter (the campaign
list, Hebei's steel capacity) is passed to it and returned; what it counts is returned too.
"""

from __future__ import annotations

from types import SimpleNamespace

import mesa
import numpy as np
from omegaconf import OmegaConf

from jjj_sim.core.errors import ConfigError
from jjj_sim.core.timeline import MAX_END_YEAR, START_YEAR, last_quarter
from jjj_sim.sim import indicators, shared
from jjj_sim.sim.events import EventLog
from jjj_sim.sim.population import (
    HIGHTECH,
    ZGC,
    FirmTable,
    draw_attributes,
    draw_lifetimes,
    synthesise,
)
from jjj_sim.sim.rules import (
    branching,
    closure,
    demography,
    hebei,
    relocation,
    technology,
)
from jjj_sim.sim.rules.branching import BranchingContext
from jjj_sim.sim.rules.choice import build_context, park_rampup, place_constants
from jjj_sim.sim.rules.closure import ClosureContext
from jjj_sim.sim.rules.demography import DemographyContext
from jjj_sim.sim.rules.hebei import HebeiContext
from jjj_sim.sim.rules.relocation import RelocationContext
from jjj_sim.sim.rules.technology import Contracts, TechnologyContext
from jjj_sim.sim.tally import Tally
from jjj_sim.sim.world import BEIJING, HEBEI, PROVINCES, load_rail_links  # noqa: F401 (load_rail_links: tests import it here)


def _namespace(d):
    if isinstance(d, dict):
        return SimpleNamespace(**{k: _namespace(v) for k, v in d.items()})
    return d


class Park(mesa.Agent):
    """A named park: a place, with a limited number of firm slots where the record states a
    physical limit (parks.csv ``capacity``; infinite otherwise)."""

    def __init__(self, model: RelocationModel, place: int):
        super().__init__(model)
        self.place = place
        self.park_id = model.places.ids[place]
        # slots in simulated firms: real slots times the population scale
        cap = float(model.places.capacity[place])  # infinite: no physical limit in the record (any scale)
        self.capacity_real = cap * model.params.parks.capacity_scale if np.isfinite(cap) else np.inf
        self.slots = np.floor(self.capacity_real * model.scale)
        self.overflow = 0  # simulated choosers sent to the park's region because it was full

    @property
    def occupancy(self) -> int:
        """Rows (legal units and branches) in the park now, in simulated firms."""
        return int(self.model.tally.occupancy[self.place])

    @property
    def free_slots(self) -> float:
        """Slots left now, in simulated firms (inf: no physical limit)."""
        return self.free_slots_at(self.model.tally.occupancy)

    def free_slots_at(self, occupancy: np.ndarray) -> float:
        """Free slots given the rows per place (``Tally.occupancy``)."""
        return max(0.0, self.slots - occupancy[self.place])


class RegionalGovernment(mesa.Agent):
    """The government of a province: puts the levers in force in its own places each quarter."""

    def __init__(self, model: RelocationModel, province: int):
        super().__init__(model)
        self.province = province
        self.name = PROVINCES[province]
        self.own = np.flatnonzero(model.places.province == province)  # its places

    def step(self) -> None:
        """Copy the place-scoped levers in force this quarter into the model's policy state for
        this province's places."""
        full, st = self.model._full_policy, self.model.policy_state
        own = self.own
        st.closure_places[own] = full.closure_places[own]
        st.negative_list_places[own] = full.negative_list_places[own]
        st.push[own] = full.push[own]
        st.matching[own] = full.matching[own]
        st.incentive[own] = full.incentive[own]
        st.decapacity_places[own] = full.decapacity_places[own]


class RelocationModel(mesa.Model):
    """Agent-based model of firm closure, relocation, branching, entry and exit.

    Args:
        cfg: an OmegaConf config (DictConfig) as prepared by the runner (``runner.compose.compose``,
            which checks it with ``runner.config.prepare``), with ``population``, ``params``,
            ``policy`` and ``run``. It must be a DictConfig: its sub-trees are converted with
            ``OmegaConf.to_container``.
        seed: seed of the model's numpy Generator (``self.rng``, the initial population) and of
            each rule's own stream (``self.streams``).
        event_sink: where the event log goes while the model runs (a ``ParquetEventWriter``);
            None keeps it in memory.
    """

    def __init__(self, cfg, seed: int = 0, event_sink=None):
        super().__init__(rng=int(seed))
        # Each rule draws from its own stream, spawned from the seed (the initial population uses
        # Mesa's ``self.rng``): changing one rule's parameters leaves every other rule's random
        # draws as they were (common random numbers hold across parameter sets,
        # so the calibration compares parameters, not noise). Same seed, same streams, same run.
        names = ("closure", "relocation", "branching", "demography", "hebei", "technology")
        self.streams = {name: np.random.default_rng(ss)
                        for name, ss in zip(names, np.random.SeedSequence(int(seed)).spawn(len(names)))}
        self.cfg = cfg
        self.params = _namespace(OmegaConf.to_container(cfg.params, resolve=True))  # plain attributes: fast in hot loops
        self.population_cfg = _namespace(OmegaConf.to_container(cfg.population, resolve=True))
        self.scale = float(cfg.population.scale)
        self.end_year = int(cfg.run.end_year)
        if not START_YEAR <= self.end_year <= MAX_END_YEAR:
            raise ConfigError("run.end_year", f"must be between {START_YEAR} and {MAX_END_YEAR}, got {self.end_year}")
        self.last_quarter = last_quarter(self.end_year)
        self.quarter = -1  # 2013 Q4: the initial stock

        # built once per process and shared by every model built in it (read-only): jjj_sim/sim/shared.py
        self.sectors, self.places = shared.places()
        self.policy = shared.policy(cfg.policy)
        self.geo = shared.geography(self.params.world, self.policy.extra_rail_links, self.last_quarter + 1)
        self.inputs = shared.load_inputs()
        counts = self.inputs["enterprise_counts_2018"]
        self.counts_2013 = {p: counts["value"][p] / (1 + counts["growth_since_2013"][p]) for p in PROVINCES}
        self.growth_2013_2018 = {p: np.log(1 + counts["growth_since_2013"][p]) / 5.0 for p in PROVINCES}
        origin_prov = [PROVINCES.index(p) for p in self.params.relocation.origin_provinces]
        self.origin_place_mask = np.isin(self.places.province, origin_prov)
        self.xiongan = self.places.index("xiongan", "places")
        self.place_asc = place_constants(self.params.choice, self.places, self.places.region == self.xiongan,
                                         vars(self.params.parks.asc_offset))

        self.events = EventLog(enabled=bool(cfg.run.get("record_events", True)), sink=event_sink)
        self.cumulative = dict.fromkeys(indicators.CUMULATIVE_COUNTERS, 0)
        self.tech_contracts = 0
        self.tech_turnover_bn = 0.0
        self.tech_contracts_cum = 0
        self.tech_turnover_cum_bn = 0.0
        self.hebei_steel_capacity_mt = float(self.inputs["hebei_steel_capacity_2014"]["value"])
        self._exit_buckets: dict[int, list[np.ndarray]] = {}
        self._exit_q = demography.quarterly_exit_hazard(self.params)

        self.firms: FirmTable = synthesise(self.rng, self.places, self.sectors, self.counts_2013,
                                           self.population_cfg, self.scale, self._exit_q,
                                           expected_rows=self._expected_rows())
        t = self.firms
        self.tally = Tally.empty(self.places.province, len(self.sectors.ids))
        self.tally.update(t.place, t.sector, t.flags, t.origin, t.size, self.sectors.industrial, +1)
        self._schedule_exits(np.arange(t.n), t.exit_at)

        self.parks = [Park(self, int(p)) for p in self.places.parks]
        self.governments = [RegionalGovernment(self, p) for p in range(len(PROVINCES))]
        self._set_policy(0)
        self.campaign_list = np.empty(0, dtype=np.int64)  # rows on the closure campaign's list
        self._initial_branches()
        self.campaign_list = closure.add_to_list(self._closure_context(), self.campaign_list,
                                                 self.params.closure.list_size)
        self.hightech_productivity = self._calibrate_hightech_productivity()
        self.datacollector = mesa.DataCollector(model_reporters=indicators.model_reporters())
        self.history = indicators.History(self)

    # ------------------------------------------------------------------ set-up helpers
    def _expected_rows(self) -> int:
        """Initial stock plus expected births to the horizon, with 10% headroom for branches
        and chance (the table still grows past it if needed)."""
        half_life = self.params.demography.growth_half_life_years
        years = (self.last_quarter + 1) / 4.0
        total = 0.0
        for p in PROVINCES:
            n0, g0 = self.counts_2013[p], self.growth_2013_2018[p]
            end = demography.target_count(n0, g0, years, half_life)
            exits = sum(demography.target_count(n0, g0, q / 4.0, half_life) * self._exit_q
                        for q in range(self.last_quarter + 1))
            total += end + exits
        return int(1.1 * total * self.scale)

    def _initial_branches(self) -> None:
        """The reported stock of ZGC branches in Tianjin and Hebei at the start (end 2013), in
        the cities: the parks the record counts opened or began counting after 2014."""
        k = int(round(self.inputs["zgc_branches_tjhb_2013"]["value"] * self.scale))
        zgc = np.flatnonzero(((self.firms.flags & ZGC) != 0) & self.firms.alive)
        if k == 0 or len(zgc) == 0:
            return
        parents = self.rng.choice(zgc, size=k, replace=k > len(zgc))
        branching.open_branches(self._branching_context(), np.sort(parents), initial=True)

    def _calibrate_hightech_productivity(self) -> float:
        """Value added per employee of high-tech relative to other industrial firms, set so
        Hebei's high-tech share of industrial value added in the starting stock (initial
        branches included) is the reported 2014 value, 13.1%; it then moves with the mix."""
        share = self.inputs["hebei_hightech_va_share_2014"]["value"] / 100.0
        hebei = self.places.province == HEBEI
        other, high = self.tally.industrial_size[hebei].sum(axis=0)
        if high <= 0 or other <= 0:
            return 1.0
        return share * other / ((1 - share) * high)

    def _set_policy(self, quarter: int) -> None:
        """Levers in force this quarter: joint levers from the policy, place-scoped ones set
        by each regional government in its own places."""
        self._full_policy = self.policy.state(quarter)
        self.policy_state = self._full_policy.blank()
        for gov in self.governments:
            gov.step()
        self.choice_context = self._choice_context(quarter)

    def _choice_context(self, quarter: int):
        c = self.params.choice
        st = self.policy_state
        # intensities above 1 (scenarios) can remove the friction entirely, never turn it into a pull
        friction_scale = (max(0.0, 1.0 - c.friction_reduction * st.business_environment)
                          * np.maximum(0.0, 1.0 - c.matching_reduction * st.matching))
        free = np.full(len(self.places.ids), np.inf)
        occupancy = self.tally.occupancy
        for park in self.parks:
            free[park.place] = park.free_slots_at(occupancy)
        counts_real = (self.tally.legal + self.tally.branches) / self.scale
        return build_context(c, self.geo.travel_time(quarter, st.rail_speedup, st.rail_link_speedups), self.geo.cost, counts_real,
                             self.places.specialised, st.incentive, self.places.is_park, self.places.province,
                             self.places.region, friction_scale, self.places.opens <= quarter,
                             st.blocked(), free, self.place_asc + park_rampup(self.places, quarter, c.park_rampup_years))

    # ------------------------------------------------------------------ table mutations
    def add_firms(self, place, sector, flags, origin, parent, kind: str, rng=None, initial: bool = False) -> np.ndarray:
        """Append firms (births or branches); ``flags`` None draws them; attributes and lifetimes
        are drawn from ``rng`` (the calling rule's stream; default Mesa's). ``initial``: rows of
        the starting stock (born before 2014, not counted as events). Returns the rows."""
        rng = self.rng if rng is None else rng
        k = len(place)
        if k == 0:
            return np.empty(0, dtype=np.int64)
        place = np.asarray(place, dtype=np.int64)
        sector = np.asarray(sector, dtype=np.int64)
        drawn, size = draw_attributes(rng, sector, self.places.province[place], self.sectors, self.population_cfg)
        flags = drawn if flags is None else np.asarray(flags, dtype=np.uint8)
        born = -1 if initial else self.quarter
        exit_at = draw_lifetimes(rng, k, born, self._exit_q)
        origin = np.asarray(origin, dtype=np.int8)
        rows = self.firms.append(place=place, sector=sector, flags=flags, size=size, origin=origin,
                                 parent=np.asarray(parent, dtype=np.int32), born=np.full(k, born, np.int32),
                                 exit_at=exit_at, alive=np.ones(k, dtype=bool), branches=np.zeros(k, np.int16))
        self.tally.update(place, sector, flags, origin, size, self.sectors.industrial, +1)
        self._schedule_exits(rows, exit_at)
        if kind == "branch":
            np.add.at(self.firms.branches, np.asarray(parent, np.int64), 1)
        if born >= 0:
            if kind == "branch":
                self._count_arrivals(origin, place)
                self.cumulative["branches_opened"] += k
            parent = np.asarray(parent, np.int64)
            src = np.where(parent >= 0, self.firms.place[np.maximum(parent, 0)], -1)
            self.events.add(kind, self.quarter, rows, src, place, sector, parent)
        return rows

    def move_firms(self, rows, dest, kind: str) -> None:
        """Move ``rows`` to the places ``dest``, keeping tallies, counters and the event log (``kind``) in step."""
        if len(rows) == 0:
            return
        t = self.firms
        src = t.place[rows].astype(np.int64)
        dest = np.asarray(dest, dtype=np.int64)
        args = (t.sector[rows], t.flags[rows], t.origin[rows], t.size[rows], self.sectors.industrial)
        self.tally.update(src, *args, -1)
        self.tally.update(dest, *args, +1)
        t.place[rows] = dest
        prov_src = self.places.province[src]
        self._count_arrivals(prov_src, dest)
        self.cumulative["relocations"] += len(rows)
        self.cumulative["relocations_out_of_beijing"] += int(
            np.sum((prov_src == BEIJING) & (self.places.province[dest] != BEIJING)))
        self.events.add(kind, self.quarter, rows, src, dest, t.sector[rows])

    def remove_firms(self, rows, kind: str) -> None:
        """Mark ``rows`` dead (``kind``: closure, exit, decapacity), keeping tallies, counters and the event log in step."""
        if len(rows) == 0:
            return
        t = self.firms
        place = t.place[rows].astype(np.int64)
        self.tally.update(place, t.sector[rows], t.flags[rows], t.origin[rows], t.size[rows],
                          self.sectors.industrial, -1)
        t.alive[rows] = False
        if kind == "closure":
            self.cumulative["beijing_closures"] += int(np.sum(self.places.province[place] == BEIJING))
            self.cumulative["closures"] += len(rows)
        self.events.add(kind, self.quarter, rows, place, np.full(len(rows), -1), t.sector[rows])

    def count_campaign(self, rows) -> None:
        """Firms the closure campaign handled (closed or moved out) in Beijing."""
        self.cumulative["beijing_campaign_exits"] += int(np.sum(self.places.province[self.firms.place[rows]] == BEIJING))

    def upgrade_firms(self, rows) -> None:
        """Firms that become high-tech where they are (Hebei's own upgrading)."""
        if len(rows) == 0:
            return
        t = self.firms
        args = (t.place[rows].astype(np.int64), t.sector[rows])
        rest = (t.origin[rows], t.size[rows], self.sectors.industrial)
        self.tally.update(*args, t.flags[rows], *rest, -1)
        t.flags[rows] |= HIGHTECH
        self.tally.update(*args, t.flags[rows], *rest, +1)
        self.events.add("upgrade", self.quarter, rows, args[0], args[0], t.sector[rows])

    def _count_arrivals(self, from_province, dest) -> None:
        """Firms from Beijing or Tianjin settling in Hebei (relocations and new branches)."""
        from_province = np.asarray(from_province)
        into_hebei = self.places.province[dest] == HEBEI
        from_bjtj = from_province != HEBEI
        self.cumulative["hebei_attracted"] += int(np.sum(into_hebei & from_bjtj))
        self.cumulative["hebei_attracted_from_beijing"] += int(np.sum(into_hebei & (from_province == BEIJING)))

    def _schedule_exits(self, rows: np.ndarray, exit_at: np.ndarray) -> None:
        due = exit_at <= self.last_quarter
        rows, exit_at = rows[due], exit_at[due]
        if len(rows) == 0:
            return
        # group by quarter, rows in order within a quarter (a stable sort: quarters fit in 16 bits,
        # for which numpy's stable sort is a radix sort)
        order = np.argsort(exit_at.astype(np.int16), kind="stable")
        rows, exit_at = rows[order], exit_at[order]
        bounds = [0, *(np.flatnonzero(exit_at[1:] != exit_at[:-1]) + 1).tolist(), len(rows)]
        for start, end in zip(bounds[:-1], bounds[1:]):
            self._exit_buckets.setdefault(int(exit_at[start]), []).append(rows[start:end])

    def exits_due(self, quarter: int) -> np.ndarray:
        """Rows whose scheduled ordinary exit is ``quarter`` (alive or not); empties that quarter's bucket."""
        parts = self._exit_buckets.pop(quarter, [])
        return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)

    # ------------------------------------------------------------------ rule contexts
    def _closure_context(self) -> ClosureContext:
        return ClosureContext(firms=self.firms, places=self.places, policy_state=self.policy_state,
                              params=self.params, scale=self.scale, choice_context=self.choice_context,
                              stream=self.streams["closure"], changes=self)

    def _relocation_context(self) -> RelocationContext:
        return RelocationContext(firms=self.firms, places=self.places, cost=self.geo.cost,
                                 origin_place_mask=self.origin_place_mask, policy_state=self.policy_state,
                                 params=self.params, choice_context=self.choice_context,
                                 stream=self.streams["relocation"], changes=self)

    def _branching_context(self) -> BranchingContext:
        return BranchingContext(firms=self.firms, places=self.places, origin_place_mask=self.origin_place_mask,
                                policy_state=self.policy_state, params=self.params,
                                choice_context=self.choice_context, stream=self.streams["branching"], changes=self)

    def _demography_context(self) -> DemographyContext:
        # exits_due empties this quarter's bucket: births never add to it (a lifetime is at least a quarter)
        return DemographyContext(quarter=self.quarter, firms=self.firms, places=self.places, sectors=self.sectors,
                                 tally=self.tally, counts_2013=self.counts_2013,
                                 growth_2013_2018=self.growth_2013_2018, policy_state=self.policy_state,
                                 params=self.params, scale=self.scale, exits_due=self.exits_due(self.quarter),
                                 stream=self.streams["demography"], changes=self)

    def _hebei_context(self) -> HebeiContext:
        return HebeiContext(firms=self.firms, places=self.places, sectors=self.sectors, tally=self.tally,
                            policy_state=self.policy_state, params=self.params, stream=self.streams["hebei"],
                            changes=self)

    def _technology_context(self) -> TechnologyContext:
        return TechnologyContext(quarter=self.quarter, tally=self.tally, places=self.places,
                                 policy_state=self.policy_state, params=self.params, inputs=self.inputs,
                                 scale=self.scale, stream=self.streams["technology"])

    def _record_contracts(self, contracts: Contracts) -> None:
        self.tech_contracts = contracts.count
        self.tech_turnover_bn = contracts.turnover_bn
        self.tech_contracts_cum += contracts.count
        self.tech_turnover_cum_bn += contracts.turnover_bn

    # ------------------------------------------------------------------ dynamics
    def step(self) -> None:
        """Simulate one quarter."""
        self.quarter = self.steps - 1
        self._set_policy(self.quarter)
        self.campaign_list = closure.apply(self._closure_context(), self.campaign_list)
        relocation.apply(self._relocation_context())
        branching.apply(self._branching_context())
        self.cumulative["registrations_refused"] += demography.apply(self._demography_context())
        self.hebei_steel_capacity_mt = hebei.apply(self._hebei_context(), self.hebei_steel_capacity_mt)
        self._record_contracts(technology.apply(self._technology_context()))
        for park in self.parks:
            park.overflow += int(self.choice_context.overflow[park.place])
        self.datacollector.collect(self)
        self.history.record(self)
        if self.quarter >= self.last_quarter:
            self.running = False

    def run_model(self, progress=None) -> None:
        """Step to the end of ``run.end_year``, calling ``progress(model)`` after each quarter if
        given; then flush the event log to its sink."""
        while self.running and self.quarter < self.last_quarter:
            self.step()
            if progress is not None:
                progress(self)
        self.events.flush()  # the last row group, when the log streams to a file
