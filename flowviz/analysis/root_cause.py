"""Root cause: from findings and the call graph, the earliest, most-downstream departure that explains the rest.

Latency and failures travel *up* the call graph (a caller waits on, or fails with, its callee),
traffic changes travel *down* (a caller that fails or slows sends less). So within one incident
(findings whose times overlap):

* a node's latency or failure finding is explained by a finding of latency or failures on a node
  it calls, directly or through others, that began no later than `tolerance_s` after it;
* a node's traffic finding is explained by a finding on a node that calls it, the same way: a drop by
  any departure above it (a caller that fails, slows or loses traffic sends less), a surge by a surge,
  failures (retries) or a stall above it (a backlog released), never by a caller that merely slowed;
* a node whose latency or failures began with a surge of its own traffic that a surge above explains
  slowed *under the load*: its departure is explained by that surge too (a saturated service answers
  to the burst of traffic that saturated it, and is named in the why of the surge's candidate);
* what nothing explains is a candidate; it explains (its blast radius) every node whose chain of
  explanations leads to it. Candidates are ranked by the strength of their own departure, the size
  of their blast radius and, when known, their share of the critical path; earliest onset breaks ties.

Edge findings whose target node has no finding of its own count as the target's (a callee that
only its callers see failing: timeouts, refused connections). Qt-free.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flowviz.analysis.findings import Finding
from flowviz.model.time_spec import format_time_ns

if TYPE_CHECKING:
    import networkx as nx

SECOND_NS = 1_000_000_000
_UPWARD = {"latency", "errors", "lag"}  # a consumer falling behind waits on what it calls, as a caller does
# which signals above a node explain its traffic finding: fewer calls come from any departure; more from more
# traffic, from retries of failures or from a stalled caller's backlog, never from a caller that only slowed
_EXPLAINS_TRAFFIC = {
    "traffic_drop": {"latency", "errors", "lag", "traffic_drop"},
    "traffic_surge": {"traffic_surge", "errors", "lag", "traffic_drop"},
}
_VERBS = {
    "latency": "slowed",
    "errors": "failing",
    "traffic_drop": "lost traffic",
    "traffic_surge": "surged",
    "lag": "fell behind",
}


@dataclass(frozen=True, slots=True)
class RootCause:
    """A candidate culprit of one incident."""

    node: str
    kind: str
    signal: str  # its strongest finding's signal
    onset_ns: int
    end_ns: int
    score: float  # ranking score (strength × blast radius × critical-path weight)
    confidence: float  # 0..1: the share of the incident's anomalous nodes it explains, less when it has rivals
    explains: tuple[str, ...]  # nodes whose departures follow from it, by onset
    why: str
    findings: tuple[Finding, ...]  # its own
    # of `explains`: where a surge's load hurt (slowed or failed under it, calling none that did)
    under_load: tuple[str, ...] = ()


def visible_findings(findings: Iterable[Finding]) -> list[Finding]:
    """The findings worth listing: an edge finding is left out when its target node has a finding of the same
    signal at an overlapping time (the node's says it)."""
    findings = list(findings)
    node_spans: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for finding in findings:
        if finding.node is not None:
            node_spans.setdefault((finding.node, finding.signal), []).append((finding.onset_ns, finding.end_ns))
    out = []
    for finding in findings:
        if finding.edge is not None:
            spans = node_spans.get((finding.edge[1], finding.signal), [])
            if any(onset <= finding.end_ns and finding.onset_ns <= end for onset, end in spans):
                continue
        out.append(finding)
    return out


@dataclass(slots=True)
class _NodeState:
    name: str
    findings: list[Finding]

    @property
    def onset_ns(self) -> int:
        return min(f.onset_ns for f in self.findings)

    @property
    def end_ns(self) -> int:
        return max(f.end_ns for f in self.findings)

    @property
    def strongest(self) -> Finding:
        return max(self.findings, key=lambda f: (f.score, -f.onset_ns))

    def strongest_of(self, signals: set[str]) -> Finding:
        """The strongest of its findings of `signals` (it must have one)."""
        return max((f for f in self.findings if f.signal in signals), key=lambda f: (f.score, -f.onset_ns))

    def onset_of(self, signals: set[str]) -> int | None:
        times = [f.onset_ns for f in self.findings if f.signal in signals]
        return min(times) if times else None


def _by_node(findings: Sequence[Finding]) -> dict[str, _NodeState]:
    nodes: dict[str, _NodeState] = {}
    with_own = {f.node for f in findings if f.node is not None}
    for finding in findings:
        if finding.node is not None:
            name = finding.node
        elif finding.edge is not None and finding.edge[1] not in with_own:
            name = finding.edge[1]
        else:
            continue
        nodes.setdefault(name, _NodeState(name, [])).findings.append(finding)
    return nodes


def _incidents(findings: Sequence[Finding], gap_ns: int) -> list[list[Finding]]:
    """Findings grouped by overlapping times (with `gap_ns` of slack)."""
    groups: list[list[Finding]] = []
    group_end = 0
    for finding in sorted(findings, key=lambda f: (f.onset_ns, f.subject, f.signal)):
        if groups and finding.onset_ns <= group_end + gap_ns:
            groups[-1].append(finding)
            group_end = max(group_end, finding.end_ns)
        else:
            groups.append([finding])
            group_end = finding.end_ns
    return groups


def rank_root_causes(
    findings: Sequence[Finding],
    calls: Iterable[tuple[str, str] | tuple[str, str, bool]],
    *,
    critical_share: Mapping[str, float] | None = None,
    tolerance_s: float = 30.0,
) -> list[RootCause]:
    """Root-cause candidates of every incident in `findings`, best first. `calls` are the graph's (caller, callee)
    pairs, with a third item True for asynchronous (messaging) calls, across which latency and failures do not
    travel up; `critical_share` the share of critical-path time per node where known."""
    if not findings:
        return []
    import networkx as nx  # here, not at import: a report without findings never needs it

    graph = nx.DiGraph()  # calls a caller waits on
    traffic_graph = nx.DiGraph()  # every call
    for call in calls:
        caller, callee = call[0], call[1]
        if caller != callee:
            traffic_graph.add_edge(caller, callee)
            if not (len(call) > 2 and call[2]):
                graph.add_edge(caller, callee)
    tolerance_ns = round(tolerance_s * SECOND_NS)
    out: list[RootCause] = []
    for incident in _incidents(findings, tolerance_ns):
        nodes = _by_node(incident)
        if nodes:
            out += _incident_causes(sorted(nodes), nodes, graph, traffic_graph, tolerance_ns, critical_share or {})
    out.sort(key=lambda c: (-c.score, c.onset_ns, c.node))
    return out


def _incident_causes(
    members: list[str],
    nodes: dict[str, _NodeState],
    graph: nx.DiGraph,
    traffic_graph: nx.DiGraph,
    tolerance_ns: int,
    critical_share: Mapping[str, float],
) -> list[RootCause]:
    import networkx as nx

    member_set = set(members)
    explained_by = nx.DiGraph()
    explained_by.add_nodes_from(members)
    under_load: set[str] = set()  # slowed or failed with a surge of their own traffic that a surge above explains
    for name in members:
        state = nodes[name]
        below = nx.descendants(graph, name) & member_set if name in graph else set()
        above = nx.ancestors(traffic_graph, name) & member_set if name in traffic_graph else set()
        upward_onset = state.onset_of(_UPWARD)
        if upward_onset is not None:
            for other in below:
                other_onset = nodes[other].onset_of(_UPWARD)
                if other_onset is not None and other_onset <= upward_onset + tolerance_ns:
                    explained_by.add_edge(name, other)
        for signal, signals_above in _EXPLAINS_TRAFFIC.items():
            traffic_onset = state.onset_of({signal})
            if traffic_onset is None:
                continue
            surged_with = (
                signal == "traffic_surge"
                and upward_onset is not None
                and abs(upward_onset - traffic_onset) <= tolerance_ns
            )
            if upward_onset is not None and not surged_with:
                continue  # its own latency or failures say more than its traffic
            if surged_with:  # only the load of a surge above explains its own slowing or failing (not retries)
                signals_above = {"traffic_surge"}
            for other in above:
                onset = nodes[other].onset_of(signals_above)
                if onset is not None and onset <= traffic_onset + tolerance_ns:
                    explained_by.add_edge(name, other)
                    if surged_with:
                        under_load.add(name)
    candidates = [n for n in members if explained_by.out_degree(n) == 0]
    if not candidates:  # explanations run in a circle: take the circle's earliest members
        condensed = nx.condensation(explained_by)
        sinks = [c for c in condensed.nodes if condensed.out_degree(c) == 0]
        candidates = [min(condensed.nodes[c]["members"], key=lambda n: (nodes[n].onset_ns, n)) for c in sinks]
        for name in candidates:
            explained_by.remove_edges_from(list(explained_by.out_edges(name)))
    component_of = {}
    for index, component in enumerate(nx.weakly_connected_components(explained_by)):
        for name in component:
            component_of[name] = (index, len(component))
    causes = []
    for name in candidates:
        state = nodes[name]
        strongest = state.strongest
        radius = sorted(nx.ancestors(explained_by, name), key=lambda n: (nodes[n].onset_ns, n))
        share = float(critical_share.get(name, 0.0))
        score = strongest.score * math.log2(2 + len(radius)) * (1 + share)
        causes.append((name, state, strongest, radius, score))
    out = []
    for name, state, strongest, radius, score in causes:
        saturated = _saturated(radius, under_load, graph)
        component, size = component_of[name]
        rivals = [c[4] for c in causes if component_of[c[0]][0] == component]
        confidence = (1 + len(radius)) / size * min(1.0, strongest.score / 10.0)
        if len(rivals) > 1:
            confidence *= max(score / sum(rivals), 0.25)
        out.append(
            RootCause(
                node=name,
                kind=strongest.kind,
                signal=strongest.signal,
                onset_ns=state.onset_ns,
                end_ns=state.end_ns,
                score=round(score, 3),
                confidence=round(min(confidence, 1.0), 3),
                explains=tuple(radius),
                why=_why(name, strongest, state.onset_ns, radius, nodes, saturated),
                findings=tuple(sorted(state.findings, key=lambda f: f.onset_ns)),
                under_load=tuple(saturated),
            )
        )
    return out


def _saturated(radius: list[str], under_load: set[str], graph: nx.DiGraph) -> list[str]:
    """The nodes of `radius` that slowed or failed under a surge's load and call none that did: where it saturated."""
    import networkx as nx

    loaded = [name for name in radius if name in under_load]
    return [n for n in loaded if n not in graph or not (nx.descendants(graph, n) & under_load)]


def _why(
    name: str,
    strongest: Finding,
    onset_ns: int,
    radius: list[str],
    nodes: dict[str, _NodeState],
    saturated: list[str],
) -> str:
    clock = format_time_ns(onset_ns)[11:19]
    text = f"{name}: {strongest.describe()} from {clock}"
    if not radius:
        return text + "; nothing else departed because of it"
    if saturated:
        said = "; ".join(f"{n} {nodes[n].strongest_of(_UPWARD).describe()}" for n in saturated[:3])
        text += f"; under the load: {said}"
        radius = [n for n in radius if n not in saturated[:3]]
        if not radius:
            return text
    shown = radius[:6]
    rest = f" and {len(radius) - len(shown)} more" if len(radius) > len(shown) else ""
    verbs = {_VERBS[nodes[n].strongest.signal] for n in shown}
    verb = verbs.pop() if len(verbs) == 1 else "departed"
    return f"{text}; {', '.join(shown)}{rest} {verb} after it"
