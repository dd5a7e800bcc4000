"""flowviz: see how data flows between microservices, live and in replay."""

__version__ = "0.1.0"
