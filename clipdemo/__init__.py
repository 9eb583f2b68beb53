"""clipdemo: explore how CLIP connects images and text.

The layers, each importing only downward: engine (the one cached model) -> analysis (pure functions)
-> figures (Plotly) -> ui (one Gradio module per tab) -> app.py.
"""

from .errors import InputError, ModelError
from .registry import available_models

__all__ = ["available_models", "InputError", "ModelError"]
__version__ = "0.1.0"
