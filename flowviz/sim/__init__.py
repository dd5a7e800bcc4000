"""The built-in simulator (Qt-free): OTLP traffic of an e-commerce platform with scripted incidents."""

from flowviz.sim.incidents import NO_INCIDENTS, Effect, Incident, IncidentScript, Occurrence
from flowviz.sim.platforms.ecommerce import default_script, ecommerce_platform
from flowviz.sim.simulator import DEFAULT_START_NS, Simulator
from flowviz.sim.topology import Topology
from flowviz.sim.traffic_rate import day_curve

__all__ = [
    "DEFAULT_START_NS",
    "NO_INCIDENTS",
    "Effect",
    "Incident",
    "IncidentScript",
    "Occurrence",
    "Simulator",
    "Topology",
    "day_curve",
    "default_script",
    "ecommerce_platform",
]
