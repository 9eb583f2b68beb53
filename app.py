"""CLIP Explorer: `python app.py [--model NAME [--model NAME2 ...]] [--max-models 3] [--device cuda]
[--backend onnx] [--store STORE] [--host 0.0.0.0] [--port 7860] [--mcp]`."""

import os

# Before torch loads: its OpenMP threads otherwise spin while they wait for work, and in a server whose other
# threads (the event loop, the handlers) want the same cores that spinning cost 10-20x the model's own CPU per
# request on the bundled model (docs/server.md). Passive threads sleep instead; a request is as fast.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from clipdemo.ui.app import main  # noqa: E402

if __name__ == "__main__":
    main()
