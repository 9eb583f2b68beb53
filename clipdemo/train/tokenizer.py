"""A small byte-level BPE vocabulary in CLIP's own format (vocab.json + merges.txt).

Built exactly the way OpenAI built CLIP's: the 256 byte symbols, the same with the end-of-word
marker `</w>`, one token per merge, then `<|startoftext|>` and `<|endoftext|>` last. Every byte is in
the vocabulary, so any text tokenizes (an unknown word falls back to pieces), and the EOS token has
the highest id, which is where transformers' CLIP text model pools.
"""

from __future__ import annotations

import json
from collections import Counter

from tokenizers import Regex, normalizers, pre_tokenizers
from transformers import CLIPTokenizer

from ..prompts import CIFAR100_CLASSES, ENSEMBLE_TEMPLATES
from ..scenes.grammar import vocabulary_corpus

BOS, EOS = "<|startoftext|>", "<|endoftext|>"
_SPLIT = r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"""

# Words users and the probes type that the scene captions lack; they get whole tokens too.
_EXTRA = """a an the of and or with without no not there is are this that some many few several
photo picture image drawing rendering painting sketch scene object objects shape shapes thing
number digit handwritten written printed word text sign letter says reading
left right above below top bottom next to on under behind in front
small large big tiny little dark bright light colour color black white grey gray
cat dog car house tree person man woman face cup coffee rocket horse motorcycle astronaut page coins"""


def _bytes_to_unicode() -> dict[int, str]:
    """OpenAI's reversible map from bytes to printable unicode characters (clip/simple_tokenizer.py)."""
    bs = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
          + list(range(ord("®"), ord("ÿ") + 1)))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def corpus() -> list[str]:
    lines = vocabulary_corpus() + [" ".join(CIFAR100_CLASSES).replace("_", " "), _EXTRA]
    lines += [t.replace("{}", "thing") for t in ENSEMBLE_TEMPLATES]
    return lines * 4  # repeat so every word clears min_frequency


def _merge(word: tuple[str, ...], pair: tuple[str, str]) -> tuple[str, ...]:
    out, i = [], 0
    while i < len(word):
        if i + 1 < len(word) and (word[i], word[i + 1]) == pair:
            out.append(word[i] + word[i + 1])
            i += 2
        else:
            out.append(word[i])
            i += 1
    return tuple(out)


def learn_merges(lines: list[str], budget: int, min_frequency: int = 2) -> list[tuple[str, str]]:
    """BPE merges learned the classic way: merge the most frequent adjacent pair, again and again.

    Ties go to the pair that sorts first, so the merges (and the token ids, and so a training run)
    never depend on hash order; tokenizers' own BpeTrainer breaks ties differently from run to run.
    """
    normalizer = normalizers.Sequence([normalizers.NFC(), normalizers.Replace(Regex(r"\s+"), " "),
                                       normalizers.Lowercase()])
    pre = pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(_SPLIT), behavior="removed", invert=True),
                                   pre_tokenizers.ByteLevel(add_prefix_space=False)])
    words = Counter()
    for line in lines:
        for piece, _ in pre.pre_tokenize_str(normalizer.normalize_str(line)):
            words[(*piece[:-1], piece[-1] + "</w>")] += 1
    merges = []
    while len(merges) < budget:
        pairs = Counter()
        for word, count in words.items():
            for pair in zip(word, word[1:]):
                pairs[pair] += count
        if not pairs:
            break
        best = min(pairs, key=lambda pair: (-pairs[pair], pair))
        if pairs[best] < min_frequency:
            break
        merges.append(best)
        words = Counter({_merge(word, best): count for word, count in words.items()})
    return merges


def build_tokenizer(merges_budget: int = 1500) -> CLIPTokenizer:
    """Learn up to `merges_budget` BPE merges on the caption corpus and wrap them as a CLIPTokenizer."""
    merges = learn_merges(corpus(), merges_budget)
    symbols = list(_bytes_to_unicode().values())
    tokens = symbols + [s + "</w>" for s in symbols]
    seen = set(tokens)
    for left, right in merges:
        merged = left + right
        if merged not in seen:
            seen.add(merged)
            tokens.append(merged)
    tokens += [BOS, EOS]
    vocab = {t: i for i, t in enumerate(tokens)}
    return CLIPTokenizer(vocab=vocab, merges=merges, model_max_length=77)


def save_clip_vocab(tokenizer: CLIPTokenizer, directory) -> None:
    """Write vocab.json and merges.txt beside tokenizer.json, the files openai/CLIP's format uses."""
    from pathlib import Path

    data = json.loads(tokenizer.backend_tokenizer.to_str())["model"]
    merges = [" ".join(m) if isinstance(m, list) else m for m in data["merges"]]
    Path(directory, "vocab.json").write_text(json.dumps(data["vocab"], ensure_ascii=False) + "\n")
    Path(directory, "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n")
