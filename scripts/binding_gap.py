"""Does a model tell a pair of objects from the same pair with its colours swapped, and where does it fail?

    python scripts/binding_gap.py                      # tiny-scenes and tiny-scenes-siglip

On the binding probe's items ("a red square and an orange diamond" against "an orange square and a red
diamond") and the spatial probe's ("... to the right of ..." against "... to the left of ..."): how far
apart the image's cosines with the two captions are, and how close the two captions' own text embeddings
sit. A text tower that reads the pair as a bag of words gives the swapped captions nearly one embedding,
and then no image can part them. Seconds on 2 CPU cores; the twin's model card reports the answers.
"""

from __future__ import annotations

import argparse

import numpy as np

from clipdemo.engine import ClipEngine
from clipdemo.probes.suites import binding, spatial


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=["tiny-scenes", "tiny-scenes-siglip"])
    p.add_argument("-n", type=int, default=200, help="items per probe")
    args = p.parse_args(argv)
    suites = {"binding": binding(args.n, seed=0), "spatial": spatial(args.n, seed=0)}
    for name in args.models:
        engine = ClipEngine.load(name)
        for suite, items in suites.items():
            assert all(len(item.candidates) == 2 for item in items)
            images = engine.encode_images([item.image for item in items]).numpy()  # [N, D] unit vectors
            texts = engine.encode_texts([c for item in items for c in item.candidates]).numpy()
            texts = texts.reshape(len(items), 2, -1)  # [N, 2, D]
            rows, answer = np.arange(len(items)), np.array([item.answer for item in items])
            true, other = texts[rows, answer], texts[rows, 1 - answer]  # [N, D] each
            image_gap = np.sum(images * (true - other), axis=1)  # cos(image, true) - cos(image, other)
            text_cos = np.sum(true * other, axis=1)
            print(f"{name:20s} {suite:8s} right caption wins {np.mean(image_gap > 0):6.1%}  image cosine gap "
                  f"{np.mean(np.abs(image_gap)):.3f}  the two captions' cosine {np.mean(text_cos):.3f}")


if __name__ == "__main__":
    main()
