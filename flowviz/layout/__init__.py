"""Qt-free graph layout: stable left-to-right layered positions for the flow chart."""

from flowviz.layout.flow_layout import FlowLayout
from flowviz.layout.result import LayoutResult, layout_bounds

__all__ = ["FlowLayout", "LayoutResult", "layout_bounds"]
