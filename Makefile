# `make app` installs and runs the app; `make test` installs and runs every test (browser tests included).
VENV   ?= .venv
PY     := $(VENV)/bin/python
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
ARGS   ?=

.PHONY: app test test-fast bench chromium install checkpoint checkpoint-siglip

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt -e .
	touch $@

install: $(VENV)/.installed

app: install
	$(PY) app.py $(ARGS)

# Debian's chromium drives the browser tests (playwright cannot download browsers here).
chromium:
	@command -v chromium >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium; }

# Two workers (one per core here), a file each at a time; the load tests then run alone, as their numbers
# (memory growth, /model_info's wait under load) mean nothing beside other tests. Both parts always run.
JOBS   ?= 2
ALONE  := tests/test_soak.py tests/test_concurrency.py

# ARGS takes pytest options (-k, -m, -x, --durations=N); exit status 5 (nothing selected) counts as a pass in
# either part, and each worker's torch gets one thread (two workers on two cores).
test: install chromium
	OMP_NUM_THREADS=1 $(PY) -m pytest -n $(JOBS) --dist loadfile $(addprefix --ignore=,$(ALONE)) $(ARGS); \
	parallel=$$?; [ $$parallel = 5 ] && parallel=0; \
	$(PY) -m pytest $(ALONE) $(ARGS) -n 0; alone=$$?; [ $$alone = 5 ] && alone=0; \
	exit $$(( parallel ? parallel : alone ))

test-fast: install
	$(PY) -m pytest -n $(JOBS) --dist loadfile -m "not slow and not browser" $(ARGS)

bench: install
	$(PY) bench/zero_shot_1000_labels.py

# Retrain the bundled checkpoint from random weights, in three stages: the scenes (37 minutes), left and right
# (recipe sides, 7 minutes), then 8,500 steps of tuning at lr 1e-3 and an 80 px input on the wide renderer with
# a third of first-renderer scenes, both towers under bfloat16 autocast (recipe wide6-replay3-80-8500-bf16, 42
# minutes). 86 minutes on a 2-core AMD EPYC with AVX512-BF16: each stage timed (the first two in an earlier
# checkpoint's end-to-end run, the tune rerun from its sides checkpoint). Its model card gives the numbers.
checkpoint: install
	$(PY) -m clipdemo.train --out /tmp/tiny-scenes-base
	$(PY) -m clipdemo.train --recipe sides --init /tmp/tiny-scenes-base --out /tmp/tiny-scenes-first
	$(PY) -m clipdemo.train --recipe wide6-replay3-80-8500-bf16 --init /tmp/tiny-scenes-first \
		--out clipdemo/checkpoints/tiny-scenes

# Retrain the bundled SigLIP-family checkpoint from random weights: make checkpoint's three stages with SigLIP's
# sigmoid loss (the stages after the first continue the checkpoint's family): 88 minutes on a 2-core AMD EPYC
# with AVX512-BF16, each stage timed (37, 7 and 44). Its model card gives the numbers.
checkpoint-siglip: install
	$(PY) -m clipdemo.train --loss sigmoid --out /tmp/tiny-scenes-siglip-base
	$(PY) -m clipdemo.train --recipe sides --init /tmp/tiny-scenes-siglip-base --out /tmp/tiny-scenes-siglip-first
	$(PY) -m clipdemo.train --recipe wide6-replay3-80-8500-bf16 --init /tmp/tiny-scenes-siglip-first \
		--out clipdemo/checkpoints/tiny-scenes-siglip
