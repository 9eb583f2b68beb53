"""Named constants shared across layers."""

# CLIP's image normalisation (openai/CLIP clip.py, open_clip constants.py).
OPENAI_DATASET_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_DATASET_STD = (0.26862954, 0.26130258, 0.27577711)

# CLIP clamps its learned temperature at 100 (logit_scale = ln 100).
MAX_LOGIT_SCALE = 100.0
