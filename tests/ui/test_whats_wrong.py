"""The What's wrong dock: opens on the first finding, names the culprit, and choosing it shows its blast radius."""

from __future__ import annotations

from PySide6.QtCore import Qt

from flowviz.chart.chart_frame import Health
from flowviz.ui.flow_view import edge_tooltip
from tests.ui.test_time_travel import INCIDENT_START_S, SECOND, T0, incident_store, make_window, wait_for_analysis

__all__ = ["incident_store"]  # the fixture, used by name


def test_the_dock_opens_on_the_first_finding_and_leads_to_the_culprit(qtbot, incident_store):
    window = make_window(qtbot, incident_store)
    dock = window.analysis.dock
    wait_for_analysis(qtbot, window)
    qtbot.waitUntil(dock.isVisible, timeout=5_000)
    panel = window.analysis.panel
    panel.refresh()
    top = panel.tree.topLevelItem(0)
    assert top.text(0).startswith("1. payments: failures")
    cause = top.data(0, Qt.ItemDataRole.UserRole)
    assert cause.node == "payments"
    assert abs(cause.onset_ns - (T0 + INCIDENT_START_S * SECOND)) <= 5 * SECOND
    assert "root cause" in panel.summary.text()
    panel.tree.itemClicked.emit(top, 0)
    assert abs(window.model.time.cursor_ns - (cause.onset_ns + 30 * SECOND)) <= SECOND
    assert window.model.time.window_s <= 60.0  # a capture's whole length would blur the incident
    chart = window.model.chart
    culprit = chart.node_names.index("payments")
    assert window.view.emphasis.selected == culprit
    assert (culprit, "1") in window.view.emphasis.badges
    assert chart.node_health[culprit] == Health.FAILING
    assert "failures" in chart.node_reason[culprit]
    assert chart.node_root_cause[culprit]
    edge = next(e for e in range(chart.edge_count) if chart.edge_target[e] == culprit)
    tip = edge_tooltip(chart, edge)
    assert tip.startswith("<b>checkout → payments</b>")
    assert "p95" in tip
    assert "failures" in tip


def test_findings_and_root_causes_are_exported_with_the_tables(qtbot, incident_store, tmp_path):
    import orjson

    from flowviz.ui.export_menu import export_tables

    window = make_window(qtbot, incident_store)
    wait_for_analysis(qtbot, window)
    qtbot.waitUntil(lambda: bool(window.analysis.service.latest().diagnosis.root_causes), timeout=10_000)
    export_tables(window, str(tmp_path / "t.json"))
    tables = orjson.loads((tmp_path / "t.json").read_bytes())
    assert [c["node"] for c in tables["root_causes"]] == ["payments"]
    assert any(f["node"] == "payments" and f["signal"] == "errors" for f in tables["findings"])
    export_tables(window, str(tmp_path / "t.csv"))
    findings_csv = (tmp_path / "t-findings.csv").read_text().splitlines()
    assert findings_csv[0].startswith("node,edge,kind,signal,onset,onset_s")
    assert len(findings_csv) == 1 + len(tables["findings"])
    assert (tmp_path / "t-root-causes.csv").read_text().count("payments") >= 1


def test_the_service_a_surge_saturated_is_marked_under_the_load_in_the_blast_radius(qtbot):
    from flowviz.analysis.diagnosis import Diagnosis
    from flowviz.analysis.live_findings import LiveDiagnosis
    from flowviz.analysis.root_cause import rank_root_causes
    from flowviz.ui.whats_wrong import WhatsWrongPanel
    from tests.analysis.test_root_cause import SHOP, surge_findings

    findings = surge_findings()
    causes = tuple(rank_root_causes(findings, SHOP))
    panel = WhatsWrongPanel(lambda: LiveDiagnosis(1, Diagnosis(tuple(findings), causes), (), None, 0.0))
    qtbot.addWidget(panel)
    top = panel.tree.topLevelItem(0)
    assert top.text(0).startswith("1. gateway: traffic ×5")
    children = [top.child(i).text(0) for i in range(top.childCount())]
    assert children == ["2. cart", "3. catalog", "4. pricing · under the load", "5. shipping", "6. shopdb"]
    assert "under the load: pricing p95" in top.toolTip(0)
