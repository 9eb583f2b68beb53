"""Per-request limits, enforced on the server: the API can be called without the browser."""

MAX_IMAGES = 64  # images per request
MAX_TEXTS = 2_000  # labels, captions or texts per request
MAX_TEXT_CHARS = 5_000  # characters in one label or caption (longer captions are truncated to 77 tokens anyway)
MAX_TEMPLATES = 100
MAX_FILE_BYTES = 25 * 1024 * 1024  # one uploaded image
MAX_UPLOAD = "25mb"  # gradio's launch(max_file_size=...)
MAX_PIXELS = 50_000_000  # width x height before decoding; larger is refused as a decompression bomb
MAX_SIDE = 1_024  # images are downscaled to this longest side right after decoding
QUEUE_SIZE = 64  # requests waiting; more are refused with "queue full"
CONCURRENCY = 4  # requests run at once per event
