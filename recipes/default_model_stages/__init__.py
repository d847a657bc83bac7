"""The stages of ``recipes/default_model.py``, one module per kind of work (see its docstring)."""
