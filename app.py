"""CLIP Explorer: `python app.py [--model NAME] [--device cuda] [--host 0.0.0.0] [--port 7860] [--mcp]`."""

from clipdemo.ui.app import main

if __name__ == "__main__":
    main()
