"""The Qt side of flowviz: windows, views and panels over the Qt-free models (the only package that imports Qt)."""
