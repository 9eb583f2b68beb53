"""A pytest plugin for bench/suite_time.py: run only the test ids listed in the file named by $KEEP_IDS."""

import os


def pytest_collection_modifyitems(config, items):
    keep = set(open(os.environ["KEEP_IDS"]).read().splitlines())
    config.hook.pytest_deselected(items=[item for item in items if item.nodeid not in keep])
    items[:] = [item for item in items if item.nodeid in keep]
