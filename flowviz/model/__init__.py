"""Qt-free data model: span batches, ids, problems, time specs."""
