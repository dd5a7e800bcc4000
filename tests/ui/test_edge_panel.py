def test_payload_text_in_bytes() -> None:
    import numpy as np

    from flowviz.store.edge_details import SideFigures
    from flowviz.ui.edge_panel import payload_text

    assert payload_text(None) == ""
    assert payload_text(SideFigures(0, np.nan, np.nan, np.nan, np.zeros(1))) == ""
    text = payload_text(SideFigures(1200, 820.0, 4_100.0, 12_500_000.0, np.zeros(1)))
    assert text == "Payload: p50 820 B · p95 4.1 kB over 1,200 messages."
