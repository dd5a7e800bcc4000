"""The OTLP receiver's default addresses: loopback on the standard ports (light to import, for the command line)."""

DEFAULT_GRPC = "127.0.0.1:4317"
DEFAULT_HTTP = "127.0.0.1:4318"
