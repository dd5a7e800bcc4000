"""The simulated platforms as data: one module per scenario (its topology and its incident story)."""
