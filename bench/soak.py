"""Soak the app: many concurrent API clients for minutes; calls/s, latency, refusals and memory over time.

    python bench/soak.py [--clients 50] [--seconds 120]

Starts the app as its own process (`python app.py --model tiny-scenes`), then runs `--clients` threads,
each a client (`--client plain`: gradio's HTTP API over httpx; `gradio`: a `gradio_client.Client`) calling
/zero_shot, /rank_captions and /similarity_matrix in turn, uploading its scenes with each call, with fresh
label sets (so the embedding caches keep filling), while a process of its own asks /model_info, 2 s after
each answer (its own GIL: one shared with 50 clients would time the wait for it) and a thread
samples the server's resident memory. Prints calls/s, p50/p95 latency per endpoint, refusals, the
slowest /model_info answer, calls/s and the server's CPU a call by quarter of the run, the server's RSS over
time and its slope over the last minute and the last half (MB per minute, and KB per call: the figure that
does not depend on the machine's speed). The server runs with the environment given
(`CLIPDEMO_MALLOC=default python bench/soak.py` runs it with glibc's own malloc settings).
tests/test_soak.py runs the same and asserts.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ENDPOINTS = ("/zero_shot", "/rank_captions", "/similarity_matrix")
WORDS = ("red", "blue", "green", "yellow", "purple", "orange", "circle", "star", "square", "cross", "triangle",
         "diamond", "one", "two", "three", "four", "digit", "left", "right", "above", "below", "big", "small")


@dataclass
class SoakResult:
    seconds: float
    latencies: dict[str, list[float]] = field(default_factory=lambda: {e: [] for e in ENDPOINTS})
    refused: list[str] = field(default_factory=list)  # queue-full answers (expected under overload)
    failed: list[str] = field(default_factory=list)  # anything else: errors, hangs
    model_info_seconds: list[float] = field(default_factory=list)
    rss_mb: list[tuple[float, float]] = field(default_factory=list)  # (seconds since start, MB)
    cpu_at: list[tuple[float, float]] = field(default_factory=list)  # (seconds since start, server CPU seconds)
    done_at: list[float] = field(default_factory=list)  # seconds since start at which each call was answered
    server_cpu: float = 0.0  # CPU seconds the server used during the run, all its threads
    driver_cpu: float = 0.0  # CPU seconds this process (the clients) used: on one machine they share the cores

    def by_quarter(self) -> list[tuple[float, float]]:
        """(calls/s, server CPU ms a call) in each quarter of the run: a server whose per-call cost grows with
        its age shows it here first."""
        out = []
        if len(self.cpu_at) < 8:
            return out
        edges = [self.cpu_at[round(i * (len(self.cpu_at) - 1) / 4)] for i in range(5)]
        for (t0, c0), (t1, c1) in zip(edges, edges[1:]):
            calls = sum(t0 <= t < t1 for t in self.done_at)
            out.append((calls / max(t1 - t0, 1e-9), (c1 - c0) * 1000 / max(calls, 1)))
        return out

    @property
    def calls(self) -> int:
        return sum(len(v) for v in self.latencies.values())

    def rss_slope(self, last: float = 60.0) -> tuple[float, float]:
        """The server's memory growth over the last `last` seconds of the run: (MB per minute, KB per call).

        A least-squares line through the RSS samples of that window, so one sample's noise does not decide it.
        Per call is the figure that does not depend on the machine's speed: a faster machine makes more calls
        a minute, and whatever a call leaves behind grows the memory with the calls, not with the minutes.
        """
        end = self.rss_mb[-1][0] if self.rss_mb else 0.0
        points = [(t, mb) for t, mb in self.rss_mb if t >= end - last]
        if len(points) < 3:
            return 0.0, 0.0
        n = len(points)
        mt, mm = sum(t for t, _ in points) / n, sum(mb for _, mb in points) / n
        slope = sum((t - mt) * (mb - mm) for t, mb in points) / sum((t - mt) ** 2 for t, _ in points)  # MB/s
        span = points[-1][0] - points[0][0]
        calls = sum(points[0][0] <= t <= points[-1][0] for t in self.done_at)
        return slope * 60, slope * span * 1024 / max(calls, 1)


def cpu_seconds(pid: int | str = "self") -> float:
    """User + system CPU time of process `pid` so far, all its threads, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()  # after "(name)", which may hold spaces
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int | str = "self") -> float:
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@contextlib.contextmanager
def serving(argv: list[str], env: dict | None = None, log=subprocess.DEVNULL, start_timeout: float = 120,
            what: str = "the app"):
    """Run `argv` (a gradio app given `--port PORT` last) as its own process on a free port until it answers
    /config; yields (url, process), and stops it afterwards. Also used by bench/server_overhead.py."""
    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen([*argv, str(port)], stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + start_timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{what} exited" + (": " + Path(log.name).read_text()[-2000:]
                                                       if hasattr(log, "name") else ""))
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url + "config", timeout=5).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what} did not start in time")
            time.sleep(0.5)
        yield url, process
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


@contextlib.contextmanager
def server(*args: str, start_timeout: float = 120):
    """`python app.py --model tiny-scenes --preload` on a free port, as its own process; yields (url, process).
    Its log (stderr) is kept in `process.log_path`."""
    log = tempfile.NamedTemporaryFile("w+", prefix="clipdemo-soak-", suffix=".log", delete=False)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False", "CUDA_VISIBLE_DEVICES": ""}
    argv = [sys.executable, str(ROOT / "app.py"), "--model", "tiny-scenes", "--preload", *args, "--port"]
    with serving(argv, env, log, start_timeout) as (url, process):
        process.log_path = log.name
        yield url, process


def _labels(rng: random.Random, n: int) -> str:
    return "\n".join(" ".join(rng.sample(WORDS, 3)) + f" {rng.randrange(10**6)}" for _ in range(n))


class PlainClient:
    """One visitor over gradio's plain HTTP API, with the server work of a `gradio_client.Client`'s call:
    its files uploaded (POST /gradio_api/upload), the call queued (POST /gradio_api/call/NAME) and its result
    read from the event stream (GET /gradio_api/call/NAME/EVENT_ID), in one session of its own, as a page's
    visitor and a gradio client keep one (without it, each call would be a new session: gradio keeps ~0.5 MB
    for each, up to limits.SESSIONS). One httpx connection, no threads of its own: on a 2-core machine, 50
    gradio clients' threads took 1.5 cores, so the driver bounded calls/s."""

    def __init__(self, url: str, timeout: float = 60):
        import httpx

        self.api = url.rstrip("/") + "/gradio_api"
        self.http = httpx.Client(timeout=timeout)
        self.session_hash = os.urandom(8).hex()

    def upload(self, paths: list[str]) -> list[dict]:
        """The files at `paths` uploaded (their bytes read once per process), as the API's FileData."""
        parts = [("files", (Path(p).name, _file_bytes(p), "image/png")) for p in paths]
        reply = self.http.post(f"{self.api}/upload", files=parts)
        reply.raise_for_status()
        return [{"path": path, "orig_name": Path(p).name, "meta": {"_type": "gradio.FileData"}}
                for path, p in zip(reply.json(), paths)]

    def call(self, api_name: str, data: list, timeout: float = 60):
        """The endpoint's outputs. Raises RuntimeError on an error ("queue is full: ..." on gradio's refusal),
        TimeoutError when no result came within `timeout` seconds (the stream's heartbeats come every 15 s)."""
        deadline = time.monotonic() + timeout
        reply = self.http.post(f"{self.api}/call/{api_name}", json={"data": data, "session_hash": self.session_hash})
        if reply.status_code == 503 and "queue is full" in reply.text.lower():
            raise RuntimeError(f"queue is full: {reply.text[:200]}")
        reply.raise_for_status()
        kind = ""
        with self.http.stream("GET", f"{self.api}/call/{api_name}/{reply.json()['event_id']}") as stream:
            for line in stream.iter_lines():
                if line.startswith("event:"):
                    kind = line[6:].strip()
                elif line.startswith("data:") and kind == "complete":
                    return json.loads(line[5:])
                elif line.startswith("data:") and kind == "error":
                    raise RuntimeError(f"{api_name} failed: {line[5:].strip()[:300]}")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{api_name}: no result in {timeout:.0f} s")
        raise RuntimeError(f"{api_name}: the event stream ended without a result")

    def close(self) -> None:
        self.http.close()


@functools.lru_cache(maxsize=None)
def _file_bytes(path: str) -> bytes:
    return Path(path).read_bytes()


class GradioClient:
    """A `gradio_client.Client` behind PlainClient's calls (`--client gradio`): the same server work, but its
    threads and event handling cost the driver far more CPU."""

    def __init__(self, url: str):
        from gradio_client import Client

        self.client = Client(url, verbose=False)

    def upload(self, paths: list[str]) -> list:
        from gradio_client import handle_file

        return [handle_file(p) for p in paths]  # uploaded by submit, with the call

    def call(self, api_name: str, data: list, timeout: float = 60):
        return self.client.submit(*data, api_name="/" + api_name).result(timeout=timeout)

    def close(self) -> None:
        self.client.close()


def connect(url: str, n: int, kind: str = "plain") -> list:
    """`n` clients of the app at `url`, connected before the load starts: `PlainClient`s, or with kind
    "gradio", `gradio_client.Client`s (each reads the app's config and API description once, a few at a
    time); close them with `close`. A soak reuses them from its warm-up to its end, as a page's visitors keep
    their connection: 50 clients connecting at once under load measure the connection storm, not the calls."""
    import concurrent.futures as cf

    if kind == "plain":
        return [PlainClient(url) for _ in range(n)]
    if kind != "gradio":
        raise ValueError(f"unknown client kind {kind!r}: plain or gradio")
    with cf.ThreadPoolExecutor(4) as pool:
        return list(pool.map(lambda _: GradioClient(url), range(n)))


def close(clients: list) -> None:
    for client in clients:
        client.close()


def soak(url: str, pid: int, clients: list, seconds: float = 120, call_timeout: float = 60,
         models: tuple[str, ...] = ("",)) -> SoakResult:
    """Drive the app at `url` with `clients` (from `connect`), all at once, for `seconds`; see the module
    docstring.

    Each call names one of `models` at random as its `model` argument ("" is the server's default)."""
    from clipdemo.ui import examples

    paths = examples.scene_files()
    result, lock, stop = SoakResult(seconds), threading.Lock(), threading.Event()
    start, server_cpu, driver_cpu = time.monotonic(), cpu_seconds(pid), cpu_seconds()

    def call(client, endpoint: str, rng: random.Random):
        """One call of `endpoint` with fresh labels; its files uploaded with it, by either kind of client."""
        model = rng.choice(models)
        files = client.upload(rng.sample(paths, {"/zero_shot": 2, "/similarity_matrix": 3}.get(endpoint, 1)))
        if endpoint == "/zero_shot":
            data = [files, _labels(rng, 6), "a photo of a {}.", False, 3, model]
        elif endpoint == "/rank_captions":
            data = [files[0], _labels(rng, 5), model]
        else:
            data = [files, _labels(rng, 4), "cosine", model]
        return client.call(endpoint.lstrip("/"), data, call_timeout)

    def worker(i: int):
        rng, client, n = random.Random(f"{i}-{start}"), clients[i], i
        while not stop.is_set():
            endpoint = ENDPOINTS[n % len(ENDPOINTS)]
            n += 1
            t = time.monotonic()
            try:
                call(client, endpoint, rng)
                with lock:
                    result.latencies[endpoint].append(time.monotonic() - t)
                    result.done_at.append(time.monotonic() - start)
            except Exception as exc:  # noqa: BLE001 - every outcome is recorded and judged by the caller
                text = f"{endpoint}: {type(exc).__name__}: {exc}"
                with lock:
                    (result.refused if "queue is full" in str(exc).lower() else result.failed).append(text)
                time.sleep(0.5)

    def monitor():
        while not stop.is_set():
            now = time.monotonic() - start
            result.rss_mb.append((now, rss_mb(pid)))
            result.cpu_at.append((now, cpu_seconds(pid)))
            stop.wait(2.0)

    # /model_info is asked from a process of its own: in this one, 50 clients' threads share one GIL, and a
    # call timed here would time the wait for it, not the server
    asker = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--ask-model-info", url],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(len(clients))]
    threads.append(threading.Thread(target=monitor, daemon=True))
    try:
        for t in threads:
            t.start()
        stop.wait(seconds)
    finally:
        stop.set()
        asker.terminate()  # now: answers after the load ended would not be answers under load
        asked, asker_log = asker.communicate(timeout=call_timeout)
    for t in threads:
        t.join(call_timeout + 10)
    result.failed += [f"{t.name} still running after the soak (a hung call)" for t in threads if t.is_alive()]
    for line in asked.splitlines():
        kind, value = line.split(" ", 1)
        if kind == "seconds":
            result.model_info_seconds.append(float(value))
        else:
            result.failed.append(f"/model_info: {value}")
    if not result.model_info_seconds:
        result.failed.append("/model_info was never answered: " + asker_log[-1500:])
    result.seconds = time.monotonic() - start
    result.server_cpu, result.driver_cpu = cpu_seconds(pid) - server_cpu, cpu_seconds() - driver_cpu
    return result


def report(r: SoakResult) -> str:
    lines = [f"{r.calls} calls in {r.seconds:.0f} s: {r.calls / r.seconds:.1f} calls/s; "
             f"{len(r.refused)} refused (queue full), {len(r.failed)} failed",
             f"  CPU: the server {r.server_cpu / r.seconds:.2f} cores ({r.server_cpu * 1000 / max(r.calls, 1):.0f} ms "
             f"a call), the clients {r.driver_cpu / r.seconds:.2f} cores, of {os.cpu_count()}"]
    for endpoint, values in r.latencies.items():
        if values:
            q = statistics.quantiles(values, n=20) if len(values) > 1 else values * 19
            lines.append(f"  {endpoint:<20} {len(values):>6} calls  p50 {statistics.median(values) * 1000:7.0f} ms  "
                         f"p95 {q[18] * 1000:7.0f} ms")
    quarters = r.by_quarter()
    if quarters:
        lines.append("  by quarter of the run: " + ", ".join(f"{rate:.1f} calls/s at {ms:.0f} ms of server CPU"
                                                           for rate, ms in quarters))
    if r.model_info_seconds:
        lines.append(f"  /model_info during the load: max {max(r.model_info_seconds):.2f} s over "
                     f"{len(r.model_info_seconds)} calls")
    every = max(1, len(r.rss_mb) // 12)
    lines.append("  RSS (MB) over time: " + ", ".join(f"{t:.0f}s {mb:.0f}" for t, mb in r.rss_mb[::every]))
    for window in (60, r.seconds / 2):
        per_minute, per_call = r.rss_slope(window)
        lines.append(f"  RSS slope over the last {window:.0f} s: {per_minute:+.2f} MB/min, {per_call:+.2f} KB/call")
    lines += [f"  failed: {f}" for f in r.failed[:5]]
    return "\n".join(lines)


def ask_model_info(url: str) -> None:
    """Ask /model_info until terminated, waiting 2 s after each answer; print "seconds S" per answer,
    "failed WHY" per failure."""
    from gradio_client import Client

    client = Client(url, verbose=False)
    while True:
        t = time.monotonic()
        try:
            client.predict(api_name="/model_info")
            print("seconds", time.monotonic() - t, flush=True)
        except Exception as exc:  # noqa: BLE001 - reported to the soak, which judges it
            print("failed", f"{type(exc).__name__}: {exc}".replace("\n", " "), flush=True)
        time.sleep(2.0)


def main() -> None:
    if sys.argv[1:2] == ["--ask-model-info"]:
        return ask_model_info(sys.argv[2])
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--seconds", type=float, default=120)
    p.add_argument("--warmup", type=float, default=15, help="seconds of load before the measured run")
    p.add_argument("--client", choices=("plain", "gradio"), default="plain",
                   help="plain: gradio's HTTP API over httpx (light); gradio: gradio_client.Client (1.5 cores for "
                        "50 of them on 2 cores, so it bounds calls/s)")
    p.add_argument("--model", action="append", default=[],
                   help="also serve this model (app.py --model, after tiny-scenes); each call picks one of the "
                        "served models at random. Give it more than once for more models")
    args = p.parse_args()
    extra = [a for m in args.model for a in ("--model", m)]
    models = ("tiny-scenes", *(Path(m).name if Path(m).is_dir() else m for m in args.model))
    with server(*extra) as (url, process):
        print(f"server started: RSS {rss_mb(process.pid):.0f} MB, models {', '.join(models)}")
        clients = connect(url, args.clients, args.client)
        try:
            warm = soak(url, process.pid, clients, args.warmup, models=models)
            baseline = rss_mb(process.pid)
            print(f"warm-up: {warm.calls} calls, RSS {baseline:.0f} MB")
            result = soak(url, process.pid, clients, args.seconds, models=models)
        finally:
            close(clients)
        print(report(result))
        if result.rss_mb:
            print(f"  RSS after warm-up {baseline:.0f} MB, highest {max(mb for _, mb in result.rss_mb):.0f} MB "
                  f"(+{max(mb for _, mb in result.rss_mb) - baseline:.0f} MB)")


if __name__ == "__main__":
    main()
