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
            image_gap, text_cos = [], []
            for item in items:
                assert len(item.candidates) == 2, item.candidates
                texts = engine.encode_texts(item.candidates)
                cos = engine.encode_images([item.image])[0] @ texts.T
                image_gap.append(float(cos[item.answer] - cos[1 - item.answer]))
                text_cos.append(float(texts[0] @ texts[1]))
            print(f"{name:20s} {suite:8s} right caption wins {np.mean(np.array(image_gap) > 0):6.1%}  "
                  f"image cosine gap {np.mean(np.abs(image_gap)):.3f}  the two captions' cosine {np.mean(text_cos):.3f}")


if __name__ == "__main__":
    main()
