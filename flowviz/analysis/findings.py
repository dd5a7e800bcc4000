"""Findings: when a node or edge departs from its own learned baseline (errors, latency, traffic), incrementally.

A `FindingsTracker` is stepped forward in time (`update(until_ns)`, live every tick or over a
whole capture) and judges, every `step_s`, the last `recent_s` of each node and edge against a
baseline learned from its own trailing `baseline_s` before that:

* the baseline is robust to the incident itself: it is built from sub-windows of `recent_s`
  (traffic: their median; failures: pooled over them; p95: their median), leaving out every
  sub-window in which the entity already had a finding, and a finding is judged against the
  baseline it opened with until it ends;
* every test is a count statistic (`significance`), with a minimum of evidence and a minimum
  effect, so one failure in a quiet minute is not a jump and a 5 % wobble on a busy edge is not
  an incident: failures (ratio up ×`error_ratio_factor` and ≥ `min_error_increase`), latency
  (p95 ×`latency_ratio`, judged by the share of calls slower than the baseline p95), traffic
  (÷ or × `traffic_ratio`);
* a departure must hold for `confirm_evaluations` evaluations to open a finding; the onset is then placed where
  the cumulative excess over the baseline started (a CUSUM change point, 1 s resolution); the
  finding ends after `hold_evaluations` evaluations back within (relaxed) bounds.

Qt-free; an update reads the store's immutable snapshot, so it can run in any thread.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from flowviz.analysis.significance import error_ratio_z, latency_change_z, rate_change_z
from flowviz.model.graph_kinds import ConnectionType, NodeKind
from flowviz.store.latency_bins import BIN_COUNT, bin_of
from flowviz.store.rolling_store import RollingStore
from flowviz.store.snapshot import StoreSnapshot

SECOND_NS = 1_000_000_000
SLOW_SHARE = 0.05
"""Share of baseline calls at or above the bin after the baseline p95's: at most 5 % (bins are discrete)."""

SIGNALS = ("errors", "latency", "traffic_drop", "traffic_surge")
_UNITS = {"errors": "%", "latency": "ms", "traffic_drop": "req/s", "traffic_surge": "req/s", "lag": "s"}
LAG_STATES = {"warning": 5.0, "rewound": 5.0, "stalled": 8.0, "stopped": 10.0}
"""Consumer-group states (Burrow's) that are findings, with the score each stands for."""


@dataclass(frozen=True, slots=True)
class FindingsSettings:
    """How findings are judged (the defaults keep a calm system calm; see the module docstring)."""

    step_s: float = 1.0
    recent_s: float = 30.0
    baseline_s: float = 600.0
    min_baseline_s: float = 90.0
    z_threshold: float = 5.0
    min_errors: int = 5
    error_ratio_factor: float = 1.5
    min_error_increase: float = 0.01
    min_latency_calls: int = 10
    latency_ratio: float = 1.5
    min_latency_increase_ms: float = 2.0
    traffic_ratio: float = 2.0
    min_traffic_calls: int = 20
    hold_evaluations: int = 3
    confirm_evaluations: int = 3  # a departure opens a finding once it held this many evaluations in a row
    settle_s: float = 3.0  # data younger than this may still grow (late spans): judged only after it
    # calls to uninstrumented peers named by the client alone (connection type virtual_node: third-party
    # APIs, `unknown`) reach the store only once the deriver stops waiting for a server span (its TTL):
    # those edges, and nodes fed by them, are judged this much later, on complete data
    virtual_lateness_s: float = 30.0

    @property
    def step_ns(self) -> int:
        return round(self.step_s * SECOND_NS)

    @property
    def recent_ns(self) -> int:
        return round(self.recent_s * SECOND_NS)


@dataclass(slots=True)
class Finding:
    """One departure of a node (`edge` None) or edge (`source`, `target`) from its baseline."""

    node: str | None
    edge: tuple[str, str] | None
    kind: str  # node kind label of the node (of the edge's target for edges)
    signal: str  # one of SIGNALS
    onset_ns: int
    end_ns: int  # last evaluation at which it still held (the latest evaluation while active)
    baseline: float  # % for errors, ms for latency, req/s for traffic
    observed: float  # at the strongest evaluation
    score: float  # the strongest z-score seen
    active: bool = True
    detected_ns: int = 0  # when the tracker opened it (onset is placed before)

    @property
    def unit(self) -> str:
        return _UNITS[self.signal]

    @property
    def subject(self) -> str:
        return self.node if self.node is not None else f"{self.edge[0]}->{self.edge[1]}"  # type: ignore[index]

    def describe(self) -> str:
        """One line a user can read: "p95 ×4.1 over its baseline (12.0 → 49.8 ms)"."""
        return describe_departure(self.signal, self.baseline, self.observed)


def describe_departure(signal: str, baseline: float, observed: float) -> str:
    if signal == "latency":
        factor = observed / baseline if baseline > 0 else float("inf")
        return f"p95 ×{factor:.1f} over its baseline ({_ms(baseline)} → {_ms(observed)})"
    if signal == "errors":
        return f"failures {observed:.1f} % (baseline {baseline:.2f} %)"
    if signal == "traffic_drop":
        return f"traffic dropped to {observed:.2f}/s (baseline {baseline:.2f}/s)"
    if signal == "lag":
        return f"consumer falling behind: oldest unconsumed message {observed:.1f} s old"
    return f"traffic surged to {observed:.2f}/s (baseline {baseline:.2f}/s)"


def headline(finding: Finding | None) -> str:
    """A few words for a narrow panel: "p95 ×57", "failures 38 %", "traffic ÷3", "lag 12 s"."""
    if finding is None:
        return "departed"
    if finding.signal == "latency":
        return f"p95 ×{finding.observed / finding.baseline:.0f}" if finding.baseline > 0 else "slow"
    if finding.signal == "errors":
        return f"failures {finding.observed:.0f} %"
    if finding.signal == "lag":
        return f"lag {finding.observed:.0f} s"
    ratio = finding.observed / finding.baseline if finding.baseline > 0 else 0.0
    if finding.signal == "traffic_drop":
        return f"traffic ÷{1 / ratio:.0f}" if ratio > 0 else "traffic stopped"
    return f"traffic ×{ratio:.0f}"


def _ms(value: float) -> str:
    return f"{value * 1000:.0f} µs" if value < 1 else f"{value:.1f} ms" if value < 100 else f"{value:.0f} ms"


@dataclass(slots=True)
class _SubWindow:
    requests: np.ndarray  # entities (nodes then edges)
    errors: np.ndarray
    p95_ms: np.ndarray


@dataclass(slots=True)
class _Baseline:
    requests: np.ndarray  # median calls per sub-window
    pooled_requests: np.ndarray
    pooled_errors: np.ndarray
    p95_ms: np.ndarray
    seconds: np.ndarray  # clean baseline seconds per entity
    dispersion: np.ndarray  # variance / mean of the calls per sub-window (≥ 1): calls come in bursts (traces)


@dataclass(slots=True)
class _Open:
    finding: Finding
    entity: int
    baseline: tuple[float, ...]  # the entity's _Baseline values when it opened
    quiet: int = 0


@dataclass(slots=True)
class _State:
    names: tuple[str, ...] = ()
    node_kind: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))
    edge_source: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    edge_target: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    late: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))  # per entity: judged `virtual_lateness_s` later


class FindingsTracker:
    """Findings of one store, advanced by `update(until_ns)`; `findings()` lists them by onset."""

    def __init__(self, store: RollingStore, settings: FindingsSettings | None = None) -> None:
        self.store = store
        self.settings = settings or FindingsSettings()
        self._subs: dict[int, _SubWindow] = {}
        self._next_eval_ns: int | None = None
        self._first_ns: int | None = None
        self._open: dict[tuple[int, str], _Open] = {}
        self._pending: dict[tuple[int, str], int] = {}  # (entity, signal) -> consecutive firing evaluations
        self._closed: list[Finding] = []
        self._taint: dict[int, list[tuple[int, int]]] = {}
        self._state = _State()
        self.evaluated_until_ns: int | None = None

    # -- results -------------------------------------------------------------------------------

    def findings(self) -> list[Finding]:
        """Every finding so far (closed and open), by onset then subject."""
        out = [*self._closed, *(entry.finding for entry in self._open.values())]
        return sorted(out, key=lambda f: (f.onset_ns, f.subject, f.signal))

    # -- stepping ------------------------------------------------------------------------------

    def update(self, until_ns: int | None = None) -> bool:
        """Evaluate every step up to `until_ns` (default: the newest data less `settle_s`); True if findings changed."""
        snapshot = self.store.snapshot()
        retained = snapshot.time_range
        if retained is None:
            return False
        settings = self.settings
        if until_ns is None:
            until_ns = retained[1] - round(settings.settle_s * SECOND_NS)
        if self._first_ns is None or retained[0] < self._first_ns:
            self._first_ns = retained[0]
        step = settings.step_ns
        if self._next_eval_ns is None:
            first_eval = self._first_ns + settings.recent_ns + round(settings.min_baseline_s * SECOND_NS)
            self._next_eval_ns = -(-first_eval // step) * step
        changed = False
        while self._next_eval_ns <= until_ns:
            changed = self._evaluate(snapshot, self._next_eval_ns) or changed
            self.evaluated_until_ns = self._next_eval_ns
            self._next_eval_ns += step
        return changed

    def finish(self) -> None:
        """End of input: open findings keep their last end (they are reported as still active)."""

    # -- one evaluation ------------------------------------------------------------------------

    def _refresh_tables(self, snapshot: StoreSnapshot) -> int:
        tables = snapshot.tables
        if len(tables.node_names) != len(self._state.names) or tables.edge_count != self._state.edge_source.size:
            late_edge = tables.edge_connection_type == int(ConnectionType.VIRTUAL_NODE)
            late_node = np.zeros(len(tables.node_names), bool)
            late_node[tables.edge_target[late_edge]] = True
            late = np.concatenate([late_node, late_edge]) if self.settings.virtual_lateness_s > 0 else late_edge & False
            self._state = _State(tables.node_names, tables.node_kind, tables.edge_source, tables.edge_target, late)
        return len(tables.node_names) + tables.edge_count

    def _sub_window(self, snapshot: StoreSnapshot, start_ns: int, entities: int) -> _SubWindow:
        sub = self._subs.get(start_ns)
        if sub is None:
            frame = snapshot.query(start_ns, start_ns + self.settings.recent_ns)
            sub = _SubWindow(
                np.concatenate([frame.node_requests, frame.edge_requests]).astype(np.float64),
                np.concatenate([frame.node_errors, frame.edge_errors]).astype(np.float64),
                np.concatenate([frame.node_p95_ms, frame.edge_p95_ms]),
            )
            self._subs[start_ns] = sub
        if sub.requests.size < entities:
            sub = _SubWindow(
                *(_pad(a, entities, fill) for a, fill in ((sub.requests, 0.0), (sub.errors, 0.0), (sub.p95_ms, np.nan)))
            )
            self._subs[start_ns] = sub
        return sub

    def _baseline(self, snapshot: StoreSnapshot, eval_ns: int, entities: int) -> _Baseline | None:
        settings = self.settings
        sub_ns = settings.recent_ns
        judged_from = eval_ns - sub_ns
        origin = self._first_ns if self._first_ns is not None else judged_from  # sub-windows start at the data
        lowest = max(judged_from - round(settings.baseline_s * SECOND_NS), origin)
        first_sub = origin + -(-(lowest - origin) // sub_ns) * sub_ns
        starts = list(range(first_sub, judged_from - sub_ns + 1, sub_ns))
        for stale in [s for s in self._subs if s < first_sub]:
            del self._subs[stale]
        if len(starts) * settings.recent_s < settings.min_baseline_s:
            return None
        subs = [self._sub_window(snapshot, s, entities) for s in starts]
        requests = np.stack([s.requests[:entities] for s in subs])
        errors = np.stack([s.errors[:entities] for s in subs])
        p95 = np.stack([s.p95_ms[:entities] for s in subs])
        clean = np.ones(requests.shape, bool)
        for entity, intervals in self._taint.items():
            # intervals that ended before every baseline sub-window are no longer needed (long live sessions)
            intervals[:] = [(onset, end) for onset, end in intervals if end + sub_ns >= first_sub] or intervals[-1:]
            if entity >= entities:
                continue
            for onset_ns, end_ns in intervals:
                for row, start in enumerate(starts):
                    if start < end_ns + sub_ns and start + sub_ns > onset_ns - sub_ns:
                        clean[row, entity] = False
        median_requests = _column_medians(np.where(clean, requests, np.nan))
        p95_ms = _column_medians(np.where(clean & (requests >= 3), p95, np.nan))
        enough_p95 = (clean & (requests >= 3) & ~np.isnan(p95)).sum(axis=0) >= 3
        clean_count = clean.sum(axis=0)
        clean_requests = np.where(clean, requests, 0.0)
        mean = clean_requests.sum(axis=0) / np.maximum(clean_count, 1)
        variance = ((np.where(clean, requests - mean, 0.0)) ** 2).sum(axis=0) / np.maximum(clean_count - 1, 1)
        with np.errstate(invalid="ignore", divide="ignore"):
            dispersion = np.where((mean > 0) & (clean_count >= 3), variance / mean, 1.0)
        return _Baseline(
            requests=np.nan_to_num(median_requests),
            pooled_requests=np.where(clean, requests, 0).sum(axis=0),
            pooled_errors=np.where(clean, errors, 0).sum(axis=0),
            p95_ms=np.where(enough_p95, p95_ms, np.nan),
            seconds=clean.sum(axis=0) * settings.recent_s,
            dispersion=np.maximum(np.nan_to_num(dispersion, nan=1.0), 1.0),
        )

    def _evaluate(self, snapshot: StoreSnapshot, eval_ns: int) -> bool:
        entities = self._refresh_tables(snapshot)
        if entities == 0:
            return False
        base = self._baseline(snapshot, eval_ns, entities)
        if base is None:
            return False
        columns = (base.requests, base.pooled_requests, base.pooled_errors, base.p95_ms, base.seconds, base.dispersion)
        for (entity, _signal), entry in self._open.items():  # open findings keep the baseline they opened with
            for column, value in zip(columns, entry.baseline, strict=True):
                column[entity] = value
        settings = self.settings
        threshold = np.where(
            np.isnan(base.p95_ms), BIN_COUNT, bin_of(np.nan_to_num(base.p95_ms) * 1e6).astype(np.int64) + 1
        )
        requests, errors, p95, slow_calls, timed = self._recent(snapshot, eval_ns, threshold, entities, base)
        late = self._state.late[:entities]
        entity_eval_ns = np.full(entities, eval_ns, np.int64)
        if late.any():
            late_ns = eval_ns - round(settings.virtual_lateness_s * SECOND_NS)
            for mine, theirs in zip(
                (requests, errors, p95, slow_calls, timed),
                self._recent(snapshot, late_ns, threshold, entities, base),
                strict=True,
            ):
                mine[late] = theirs[late]
            entity_eval_ns[late] = late_ns
        judged = base.seconds >= settings.min_baseline_s
        z, fire, relaxed, observed, baseline_value = self._tests(base, requests, errors, p95, slow_calls, timed, judged)
        changed = False
        for signal in SIGNALS:
            changed = (
                self._advance(
                    snapshot,
                    signal,
                    entity_eval_ns,
                    z[signal],
                    fire[signal],
                    relaxed[signal],
                    observed[signal],
                    baseline_value[signal],
                    base,
                    threshold,
                )
                or changed
            )
        return changed

    def _recent(self, snapshot: StoreSnapshot, end_ns: int, threshold: np.ndarray, entities: int, base: _Baseline):
        """Calls, failures, p95 (NaN where not needed), slow calls and timed calls of every entity in
        [end_ns - recent_s, end_ns): one pass over the cells; percentiles only when some entity has significantly
        more slow calls than its baseline (the latency test's effect size needs them)."""
        n_nodes = len(self._state.names)
        start_ns = end_ns - self.settings.recent_ns
        counts = snapshot.slow_calls(start_ns, end_ns, threshold[n_nodes:], threshold[:n_nodes])
        slow = np.concatenate([counts.node_slow, counts.edge_slow])[:entities]
        timed = np.concatenate([counts.node_timed, counts.edge_timed])[:entities]
        p95 = np.full(entities, np.nan)
        pooled = base.pooled_requests[:entities]
        suspect = latency_change_z(SLOW_SHARE * pooled, pooled, slow, timed) >= self.settings.z_threshold
        if suspect.any() or any(signal == "latency" for _entity, signal in self._open):
            frame = snapshot.query(start_ns, end_ns)
            p95 = np.concatenate([frame.node_p95_ms, frame.edge_p95_ms])[:entities]
        return (
            np.concatenate([counts.node_requests, counts.edge_requests])[:entities],
            np.concatenate([counts.node_errors, counts.edge_errors])[:entities],
            p95,
            slow,
            timed,
        )

    def _tests(self, base: _Baseline, requests, errors, p95, slow_calls, timed, judged):
        s = self.settings
        recent_s = s.recent_s
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio0 = base.pooled_errors / base.pooled_requests
            ratio1 = errors / requests
        ratio0, ratio1 = np.nan_to_num(ratio0), np.nan_to_num(ratio1)
        z_err = error_ratio_z(base.pooled_errors, base.pooled_requests, errors, requests)
        err_effect = (ratio1 >= ratio0 * s.error_ratio_factor) & (ratio1 - ratio0 >= s.min_error_increase)
        err_fire = judged & (errors >= s.min_errors) & err_effect & (z_err >= s.z_threshold)
        err_relaxed = judged & (ratio1 - ratio0 >= s.min_error_increase / 2) & (z_err >= s.z_threshold / 2)

        base_p95 = base.p95_ms
        has_lat = ~np.isnan(base_p95) & ~np.isnan(p95)
        slow_before = SLOW_SHARE * base.pooled_requests
        z_lat = np.where(has_lat, latency_change_z(slow_before, base.pooled_requests, slow_calls, timed), 0.0)
        lat_ratio = np.where(has_lat, np.nan_to_num(p95) / np.where(base_p95 > 0, base_p95, np.inf), 0.0)
        lat_rise = np.where(has_lat, np.nan_to_num(p95) - np.nan_to_num(base_p95), 0.0)
        lat_fire = (
            judged
            & has_lat
            & (timed >= s.min_latency_calls)
            & (lat_ratio >= s.latency_ratio)
            & (lat_rise >= s.min_latency_increase_ms)
            & (z_lat >= s.z_threshold)
        )
        lat_relaxed = judged & has_lat & (lat_ratio >= 1 + (s.latency_ratio - 1) / 2) & (z_lat >= s.z_threshold / 2)

        subs = np.maximum(base.seconds / recent_s, 1.0)
        expected = base.requests  # calls per window of recent_s
        z_rate = rate_change_z(expected * subs, base.seconds, requests, recent_s) / np.sqrt(base.dispersion)
        with np.errstate(invalid="ignore", divide="ignore"):
            rate_ratio = np.where(expected > 0, requests / expected, np.inf)
        drop_fire = (
            judged
            & (expected >= s.min_traffic_calls)
            & (rate_ratio <= 1 / s.traffic_ratio)
            & (z_rate <= -s.z_threshold)
        )
        drop_relaxed = (
            judged
            & (expected >= s.min_traffic_calls / 2)
            & (rate_ratio <= 2 / (1 + s.traffic_ratio))
            & (z_rate <= -s.z_threshold / 2)
        )
        surge_fire = (
            judged
            & (requests >= s.min_traffic_calls)
            & (expected >= s.min_traffic_calls)
            & (rate_ratio >= s.traffic_ratio)
            & (z_rate >= s.z_threshold)
        )
        surge_relaxed = judged & (rate_ratio >= (1 + s.traffic_ratio) / 2) & (z_rate >= s.z_threshold / 2)
        z = {"errors": z_err, "latency": z_lat, "traffic_drop": -z_rate, "traffic_surge": z_rate}
        fire = {"errors": err_fire, "latency": lat_fire, "traffic_drop": drop_fire, "traffic_surge": surge_fire}
        relaxed = {
            "errors": err_relaxed,
            "latency": lat_relaxed,
            "traffic_drop": drop_relaxed,
            "traffic_surge": surge_relaxed,
        }
        observed = {
            "errors": 100 * ratio1,
            "latency": np.nan_to_num(p95),
            "traffic_drop": requests / recent_s,
            "traffic_surge": requests / recent_s,
        }
        baseline_value = {
            "errors": 100 * ratio0,
            "latency": np.nan_to_num(base_p95),
            "traffic_drop": expected / recent_s,
            "traffic_surge": expected / recent_s,
        }
        return z, fire, relaxed, observed, baseline_value

    def _advance(self, snapshot, signal, entity_eval_ns, z, fire, relaxed, observed, baseline_value, base, threshold):
        """Open, extend or close the findings of one signal after an evaluation (`entity_eval_ns`: the moment each
        entity was judged at)."""
        changed = False
        firing = set(np.flatnonzero(fire).tolist())
        for key in [k for k in self._pending if k[1] == signal and k[0] not in firing]:
            del self._pending[key]
        for entity in firing:
            key = (entity, signal)
            if key in self._open:
                continue
            count = self._pending.get(key, 0) + 1
            self._pending[key] = count
            if count >= self.settings.confirm_evaluations:
                del self._pending[key]
                self._open_finding(
                    snapshot,
                    entity,
                    signal,
                    int(entity_eval_ns[entity]),
                    float(z[entity]),
                    float(observed[entity]),
                    float(baseline_value[entity]),
                    base,
                    threshold,
                )
                changed = True
        for key in [k for k in self._open if k[1] == signal]:
            entry = self._open[key]
            entity = key[0]
            finding = entry.finding
            if relaxed[entity] or fire[entity]:
                entry.quiet = 0
                finding.end_ns = int(entity_eval_ns[entity])
                if z[entity] > finding.score:
                    finding.score, finding.observed = float(z[entity]), float(observed[entity])
                    changed = True
                self._taint_entity(entity, finding.onset_ns, finding.end_ns)
            else:
                entry.quiet += 1
                if entry.quiet >= self.settings.hold_evaluations:
                    finding.active = False
                    self._closed.append(finding)
                    del self._open[key]
                    changed = True
        return changed

    def _taint_entity(self, entity: int, onset_ns: int, end_ns: int) -> None:
        intervals = self._taint.setdefault(entity, [])
        if intervals and intervals[-1][0] <= onset_ns <= intervals[-1][1] + self.settings.recent_ns:
            intervals[-1] = (intervals[-1][0], max(intervals[-1][1], end_ns))
        else:
            intervals.append((onset_ns, end_ns))

    def _open_finding(self, snapshot, entity, signal, eval_ns, z, observed, baseline_value, base, threshold) -> None:
        state = self._state
        n_nodes = len(state.names)
        if entity < n_nodes:
            node, edge, kind_node = state.names[entity], None, entity
        else:
            e = entity - n_nodes
            source, target = int(state.edge_source[e]), int(state.edge_target[e])
            node, edge, kind_node = None, (state.names[source], state.names[target]), target
        onset = self._onset(snapshot, entity, signal, eval_ns, base, threshold)
        finding = Finding(
            node=node,
            edge=edge,
            kind=NodeKind(int(state.node_kind[kind_node])).label,
            signal=signal,
            onset_ns=onset,
            end_ns=eval_ns,
            baseline=baseline_value,
            observed=observed,
            score=z,
            detected_ns=eval_ns,
        )
        frozen = tuple(
            float(column[entity])
            for column in (
                base.requests,
                base.pooled_requests,
                base.pooled_errors,
                base.p95_ms,
                base.seconds,
                base.dispersion,
            )
        )
        self._open[(entity, signal)] = _Open(finding, entity, frozen)
        self._taint_entity(entity, onset, eval_ns)

    def _onset(
        self, snapshot: StoreSnapshot, entity: int, signal: str, eval_ns: int, base: _Baseline, threshold
    ) -> int:
        """Where the departure began: the change point of a CUSUM per second over the last windows, with its
        reference halfway between the before and after levels (measured on the same second-by-second counts)."""
        settings = self.settings
        lookback_ns = 2 * settings.recent_ns + 4 * settings.step_ns
        history_ns = lookback_ns + round(min(settings.baseline_s, 300.0) * SECOND_NS)
        floor_ns = self._first_ns if self._first_ns is not None else eval_ns - history_ns
        start_ns = max(eval_ns - history_ns, floor_ns) // SECOND_NS * SECOND_NS
        n_nodes = len(self._state.names)
        if entity < n_nodes:
            columns = np.flatnonzero(self._state.edge_target == entity)
            edge_threshold = np.where(self._state.edge_target == entity, threshold[entity], BIN_COUNT)
        else:
            columns = np.array([entity - n_nodes])
            edge_threshold = threshold[n_nodes:]
        counts = snapshot.step_counts(start_ns, eval_ns, step_ns=SECOND_NS, edge_min_bin=edge_threshold)
        requests = counts.requests[:, columns].sum(axis=1)
        if signal == "errors":
            hits, totals = counts.failures[:, columns].sum(axis=1), requests
        elif signal == "latency":
            hits, totals = counts.slow[:, columns].sum(axis=1), requests  # type: ignore[index]
        else:
            hits, totals = requests, np.ones_like(requests)
        split = max(0, requests.size - int(lookback_ns // SECOND_NS))
        after = requests.size - int(settings.recent_ns // SECOND_NS)
        level_before = hits[:split].sum() / max(totals[:split].sum(), 1.0) if split else None
        if level_before is None:
            level_before = hits[: max(after, 1)].sum() / max(totals[: max(after, 1)].sum(), 1.0)
        level_after = hits[after:].sum() / max(totals[after:].sum(), 1.0)
        reference = (level_before + level_after) / 2
        excess = hits[split:] - totals[split:] * reference
        if level_after < level_before:  # a drop
            excess = -excess
        walk = np.concatenate([[0.0], np.cumsum(excess)])
        return int(start_ns + (split + int(np.argmin(walk))) * SECOND_NS)


def _column_medians(values: np.ndarray) -> np.ndarray:
    """Median of each column's non-NaN values; NaN for columns with none (without numpy's all-NaN warning)."""
    out = np.full(values.shape[1], np.nan)
    some = ~np.isnan(values).all(axis=0)
    if some.any():
        out[some] = np.nanmedian(values[:, some], axis=0)
    return out


def _pad(array: np.ndarray, size: int, fill: float) -> np.ndarray:
    out = np.full(size, fill, np.float64)
    out[: array.size] = array
    return out


def consumer_findings(store: RollingStore) -> list[Finding]:
    """Consumer groups in a troubled state (warning, rewound, stalled, stopped — Burrow's evaluation, polled from
    the broker) as findings of the group's node: onset where the state's evidence began, end at its last look."""
    history = store.consumer_lag
    if not len(history):
        return []
    open_runs: dict[tuple[str, str], Finding] = {}
    out: list[Finding] = []
    for frame in history.frames(-(1 << 62), 1 << 62):
        seen = set()
        for state in frame.groups:
            key = (state.group, state.topic)
            score = LAG_STATES.get(state.state)
            if score is None:
                continue
            seen.add(key)
            lag_s = float(state.lag_s) if state.lag_s is not None else 0.0
            finding = open_runs.get(key)
            if finding is None:
                finding = Finding(
                    state.group, None, "service", "lag", state.since_ns, frame.polled_ns, 0.0, lag_s, score
                )
                open_runs[key] = finding
                out.append(finding)
            finding.end_ns = frame.polled_ns
            finding.score = max(finding.score, score)
            finding.observed = max(finding.observed, lag_s)
        for key in [k for k in open_runs if k not in seen]:
            open_runs.pop(key).active = False
    return out


def analyse_store(store: RollingStore, settings: FindingsSettings | None = None) -> list[Finding]:
    """Findings over everything the store holds (the tracker stepped to the end of the data)."""
    tracker = FindingsTracker(store, settings)
    retained = store.time_range_ns()
    if retained is None:
        return []
    tracker.update(retained[1])
    return tracker.findings()
