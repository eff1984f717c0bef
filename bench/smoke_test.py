#!/usr/bin/python3
"""CI smoke run of the end-to-end harness: every scenario at a tiny size, for the daemon and the
floor probe. It checks that the harness works and that every run produced sane figures (no lost
event, STATE_DB converged after each storm, every subscriber got every event); it makes no
performance claim (docs/PERFORMANCE.md has those, from full runs)."""
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
out = tempfile.mkdtemp(prefix="psbench-smoke-")
cmd = [sys.executable, os.path.join(HERE, "run.py"), "--label", "smoke", "--out", out,
       "--ports", "16", "--events", "60", "--repeat", "1", "--gap-us", "1000", "--storm-seconds", "0.5",
       "--idle-seconds", "0.5", "--subscribers", "3", "--stream-ports", "16",
       "--stream-storm-ports", "16"]
subprocess.run(cmd, check=True)
with open(os.path.join(out, "results.json")) as f:
    results = json.load(f)["results"]
seen = {(r["scenario"], r["who"], r.get("subscribers", 0), r.get("api", "")) for r in results}
for want in [("latency", "daemon", 0, ""), ("latency", "floor", 0, ""), ("storm", "daemon", 0, ""),
             ("storm", "floor", 0, ""), ("startup", "daemon", 0, ""), ("startup", "floor", 0, ""),
             ("footprint", "daemon", 0, ""), ("footprint", "floor", 0, "")] + [
        (sc, "daemon", 3, api) for sc in ("latency", "storm") for api in ("portsync", "gnmi", "both")]:
    assert want in seen, f"missing run {want}: {sorted(seen)}"
for r in results:
    if r["scenario"] == "latency":
        assert r["lost"] == 0 and r["all"]["count"] == 60, r
        if r.get("subscribers"):
            # 60 events to each of 3 subscribers of each API the run had.
            assert r["subscriber_missed"] == 0, r
            if r["api"] in ("portsync", "both"):
                assert r["stream"]["latency"]["count"] == 180, r
            if r["api"] in ("gnmi", "both"):
                assert r["stream"]["gnmi_latency"]["count"] == 180, r
    if r["scenario"] == "storm":
        assert r["converged"] and r["kernel_events"] > 0, r
        assert r["kernel_events_heard"] >= r["kernel_events"], r
    if r["scenario"] == "startup":
        assert r["warm_all_ports_ms"] > 0 and r["cold_all_ports_ms"] > 0, r
    if r["scenario"] == "footprint":
        assert r["rss_kib"] > 0, r
        if r["who"] == "daemon":
            assert r["subscribers_ready"], r
for png in ("latency_cdf.png", "storm_timeline.png", "stream_latency_cdf.png"):
    assert os.path.getsize(os.path.join(out, png)) > 1000, png
print(f"bench smoke: {len(results)} runs OK ({out})")
subprocess.run(["rm", "-rf", out])

# The restarts scenario (on request, like scale): one round of each way of watching.
out = tempfile.mkdtemp(prefix="psbench-smoke-")
subprocess.run([sys.executable, os.path.join(HERE, "run.py"), "--label", "smoke", "--out", out,
                "--scenarios", "restarts", "--ports", "16", "--restart-rounds", "1"], check=True)
with open(os.path.join(out, "results.json")) as f:
    runs = json.load(f)["results"][0]["runs"]
assert sorted((r["observe"], r["who"], r["observed_by"]) for r in runs) == [
    ("events", "daemon", "hset events"), ("events", "floor", "hset events"),
    ("polls", "daemon", "polls"), ("polls", "floor", "polls")], runs
assert all(r["ms"] and r["ms"] > 0 for r in runs), runs
assert all(r["own_ms"] for r in runs if r["who"] == "floor"), runs
print("bench smoke: restarts OK")
subprocess.run(["rm", "-rf", out])
