"""CLIP Explorer: `python app.py [--model NAME [--model NAME2 ...]] [--max-models 2] [--device cuda]
[--backend onnx] [--store STORE] [--host 0.0.0.0] [--port 7860] [--mcp]`."""

from clipdemo.ui.app import main

if __name__ == "__main__":
    main()
