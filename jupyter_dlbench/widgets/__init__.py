"""Notebook widgets (ipywidgets, bokeh). Import the module you need, e.g.
``from jupyter_dlbench.widgets.sweep_progress import SweepProgress``: this package imports
nothing heavy by itself, so ``import jupyter_dlbench`` stays fast."""
