"""Gradio tabs: one module per tab, thin handlers (parse -> analysis -> figures)."""
