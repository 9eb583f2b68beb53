"""Every limit the server enforces, in one place: the API can be called without the browser.

`model_info` reports them, and docs/server.md's limits section explains them.
"""

# one request
MAX_IMAGES = 64  # images per request
MAX_TEXTS = 2_000  # labels, captions or texts per request
MAX_TEXT_CHARS = 5_000  # characters in one label or caption (longer captions are truncated to 77 tokens anyway)
MAX_TEMPLATES = 100
MAX_FILE_BYTES = 25 * 1024 * 1024  # one uploaded image
MAX_UPLOAD = "25mb"  # gradio's launch(max_file_size=...): any one upload, a zip included
MAX_PIXELS = 50_000_000  # width x height before decoding; larger is refused as a decompression bomb
MAX_SIDE = 1_024  # images are downscaled to this longest side right after decoding

# uploaded zips (pairs for Recall@K, probe sets) and the CSVs inside them
MAX_ZIP_MEMBERS = 5_000  # files in one zip
MAX_ZIP_BYTES = 512 * 1024 * 1024  # bytes written when extracting one zip: a zip bomb stops here
MAX_PAIR_ROWS = 5_000  # rows of a pairs CSV: the similarity matrix is at most 5,000 x 5,000 floats (100 MB)
MAX_PROBE_ROWS = 2_000  # rows of a probe-set CSV
MAX_GALLERY_FILES = 5_000  # images in an uploaded gallery (files or a zip); --gallery DIR has no limit

# the server as a whole
QUEUE_SIZE = 64  # requests waiting; more are refused with "queue full"
CONCURRENCY = 4  # requests run at once: in the model queue (quick requests), and per long job
QUEUE_POLL_S = 0.01  # how often an idle queue looks for work (gradio: 1 ms on Linux, 50 ms on Windows)
SESSIONS = 500  # browser sessions whose state the server keeps (gradio holds ~300 KB of page config for each)
TEXT_CACHE_BYTES = 64 * 1024 * 1024  # text embeddings kept, counting all they take: ~29,000 at 512-d ...
TEXT_CACHE_ENTRIES = 30_000  # ... and at most this many (22 MB at 128-d): 2,000 labels x 12 templates fit
IMAGE_CACHE_BYTES = 64 * 1024 * 1024  # image embeddings kept, counting all they take
MAX_MODELS = 3  # models in memory at once (--max-models): the default and the two bundled; the least recently
# used is dropped
EXPORT_MAX_AGE_S = 3_600  # downloads (CSV, JSON) are kept this long, at most twice as long; so is gradio's own cache
