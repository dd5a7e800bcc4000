"""Analysis over store queries: reports and summaries."""
