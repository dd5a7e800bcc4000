"""Qt-free chart model: themes, health, geometry, particles and labels computed as numpy arrays."""
