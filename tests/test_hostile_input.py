"""Hostile and careless use of the command line: every case exits 1 (bad input) or 2
(bad usage) with a located, kind message, never a traceback, never a hang, and nothing
the user had is overwritten. Runs that could hang are bounded by the runner (subprocess
timeouts), not timed by the test."""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import CASES, ROOT, dense_process, run

FAST = ["-r", "2", "--horizon", "100", "--warmup", "10"]
SALESPROC = [sys.executable, "-m", "salesproc"]


@pytest.fixture
def process(tmp_path: Path, five_step: Path) -> Path:
    path = tmp_path / "in.yaml"
    path.write_bytes(five_step.read_bytes())
    return path


def kind(result: object, code: int, text: str) -> None:
    output = result.output  # type: ignore[attr-defined]
    assert result.exit_code == code, output  # type: ignore[attr-defined]
    assert text in output and "Traceback" not in output


# --- 19: outputs never land on inputs -----------------------------------------------------


@pytest.mark.parametrize("args", [
    ["simulate", "{p}", *FAST, "-o", "{p}"],
    ["simulate", "{p}", *FAST, "--events", "{p}"],
    ["playbook", "{p}", "-o", "{p}"],
    ["render", "{p}", "--combined", "--format", "dot", "-o", "{p}"],
    ["render", "{p}", "--buyer", "committee", "--format", "mermaid", "-o", "{p}"],
    ["compare", "{p}", "{p}", *FAST, "-o", "{p}"],
    ["sweep", "{p}", "--set", "roles.ae.headcount=3,4", *FAST, "-o", "{p}"],
])
def test_no_command_writes_over_the_process_it_reads(process: Path, args: list[str]) -> None:
    before = process.read_bytes()
    result = run(*(a.format(p=process) for a in args))
    kind(result, 2, "is an input of this command; writing there would destroy it")
    assert process.read_bytes() == before


def test_no_command_writes_over_the_base_of_a_variant(tmp_path: Path, five_step: Path) -> None:
    base = tmp_path / "five-step.yaml"
    base.write_bytes(five_step.read_bytes())
    variant = tmp_path / "trial.yaml"
    variant.write_bytes((ROOT / "processes" / "five-step-free-trial.yaml").read_bytes())
    result = run("simulate", str(variant), *FAST, "-o", str(base))
    kind(result, 2, "is an input of this command")
    assert base.read_bytes() == five_step.read_bytes()


def test_two_outputs_never_share_a_file(process: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    out.write_text("my previous results\n")
    result = run("simulate", str(process), *FAST, "-o", str(out), "--events", str(out))
    kind(result, 2, "is named for two outputs")
    assert out.read_text() == "my previous results\n"


def test_dash_means_the_terminal(process: Path, tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = run("simulate", str(process), *FAST, "--format", "json", "-o", "-")
    assert result.exit_code == 0 and json.loads(result.stdout)["kind"] == "simulation"
    result = run("render", str(process), "--combined", "--format", "mermaid", "-o", "-")
    assert result.exit_code == 0 and result.stdout.startswith("flowchart")
    assert not (tmp_path / "-").exists()
    kind(run("render", str(process), "--format", "png", "-o", "-"), 2, "write it to a file")


# --- 20: inputs that used to end in an internal error ------------------------------------


NOT_A_RANGE = "a range is FROM..TO or FROM..TO:STEP with ordinary numbers"


@pytest.mark.parametrize(("spec", "message"), [
    ("1..nan", NOT_A_RANGE), ("1..inf", NOT_A_RANGE), ("1..3:nan", NOT_A_RANGE),
    ("1.." + "9" * 400, NOT_A_RANGE), ("nan..3", NOT_A_RANGE),
    ("1..3:0", "the range must go up, with a step above 0"),
])
def test_sweep_ranges_of_non_numbers_are_usage_errors(process: Path, spec: str,
                                                      message: str) -> None:
    result = run("sweep", str(process), "--set", f"roles.ae.headcount={spec}", *FAST)
    kind(result, 2, message)


# a base without stages is blamed on the change that needs them (remove_stages:, line 3);
# a file that is no process at all, on the extends: that names it (line 2, its value)
@pytest.mark.parametrize(("base", "message", "at"), [
    ("salesproc: 1\nname: B\n", "has no list of stages to change", "3:1"),
    ("salesproc: 1\nname: B\nstages: 5\n", "has no list of stages to change", "3:1"),
    ("salesproc: 1\nname: B\nstages: [1, 2]\n", "has no list of stages to change", "3:1"),
    ("root:x:0:0:root:/root:/bin/bash\n", "cannot use 'base.yaml' as the base", "2:10"),
    ("root: x\nuser: y\n", "it is not a process file", "2:10"),
])
def test_a_base_that_is_no_process_is_a_kind_error(tmp_path: Path, base: str,
                                                   message: str, at: str) -> None:
    (tmp_path / "base.yaml").write_text(base)
    variant = tmp_path / "v.yaml"
    variant.write_text("salesproc: 1\nextends: base.yaml\nremove_stages: [demo]\n")
    result = run("validate", str(variant))
    kind(result, 1, message)
    assert result.output.startswith(f"{variant}:{at}: error SP601 "), result.output
    assert "root:x:0:0" not in result.output  # the base's content is never shown


def test_a_nul_byte_in_extends_is_a_kind_error(tmp_path: Path) -> None:
    variant = tmp_path / "v.yaml"
    variant.write_text('salesproc: 1\nextends: "a\\0b.yaml"\nname: V\n')
    kind(run("validate", str(variant)), 1, "a file name cannot hold a NUL character")


@pytest.mark.parametrize("setting", ["extends=other.yaml", "salesproc=2", "name=a\nb: c",
                                     "roles.ae.headcount=" + "9" * 5000,
                                     "x-a=!!int abc", "x-b=<<: *c"])
def test_set_options_that_would_be_lost_or_crash_are_refused(process: Path,
                                                            setting: str) -> None:
    result = run("simulate", str(process), *FAST, "--set", setting)
    assert result.exit_code == 1, result.output
    assert "<command line>:1:" in result.output and "Traceback" not in result.output


# --- 21: ordinary I/O errors ----------------------------------------------------------------


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("args", [["validate", "tests/cases/invalid/SP201-unknown-next.yaml"],
                                  ["simulate", "processes/five-step.yaml", *FAST],
                                  ["schema", "--print"]])
def test_a_full_disk_on_stdout_is_a_message_not_a_crash(args: list[str]) -> None:
    with open("/dev/full", "w") as full:
        done = subprocess.run([*SALESPROC, *args], stdout=full, stderr=subprocess.PIPE,
                              cwd=ROOT, text=True, timeout=120, check=False)
    assert done.returncode == 1, done.stderr
    assert "cannot write the output: No space left on device" in done.stderr
    assert "Traceback" not in done.stderr


def test_an_output_name_too_long_for_the_file_system(process: Path, tmp_path: Path) -> None:
    result = run("simulate", str(process), *FAST, "-o", str(tmp_path / ("x" * 300)))
    kind(result, 1, "cannot write")


# --- 22: nothing hangs -------------------------------------------------------------------------


def test_a_pipe_is_refused_not_waited_on(tmp_path: Path) -> None:
    fifo = tmp_path / "p.yaml"
    os.mkfifo(fifo)
    variant = tmp_path / "v.yaml"
    variant.write_text("salesproc: 1\nextends: p.yaml\nname: V\n")
    for target in (fifo, variant):
        done = subprocess.run([*SALESPROC, "validate", str(target)], capture_output=True,
                              text=True, timeout=60, check=False)
        assert done.returncode == 1 and "not a regular file" in done.stdout


def test_thousands_of_unknown_names_are_reported_quickly(tmp_path: Path) -> None:
    stages = "\n".join(
        f"  - {{id: s{i:04d}_{'x' * 58}, name: S{i}, owner: r, next: "
        f"{{{', '.join(f'u{i:04d}{j}_{chr(97 + j) * 58}: 0.1' for j in range(5))}}}}}"
        for i in range(1000))
    path = tmp_path / "big.yaml"
    path.write_text("salesproc: 1\nname: Big\nroles: {r: {title: R, headcount: 1}}\n"
                    f"stages:\n{stages}\nbuyer_types: {{b: {{name: B, share: 1, value: 1}}}}\n")
    done = subprocess.run([*SALESPROC, "validate", str(path)], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 1 and "5000 errors" in done.stderr
    hints = [line for line in done.stdout.splitlines() if "defined stages:" in line]
    # never all 1000 stage ids (and won and lost) in one hint
    assert hints and all(h.endswith(", … (1002 in all)") for h in hints)


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz not installed")
def test_graphviz_is_stopped_on_a_densely_routed_process(tmp_path: Path) -> None:
    path = dense_process(tmp_path / "dense.yaml", 20, 0.03)
    done = subprocess.run([*SALESPROC, "render", str(path), "--combined", "-o",
                           str(tmp_path / "d.svg")], capture_output=True, text=True,
                          timeout=120, check=False,
                          env={**os.environ, "SALESPROC_DOT_TIMEOUT": "0.5"})
    assert done.returncode == 1, done.stderr
    assert "Graphviz gave up drawing 420 arrows after 0.5 s" in done.stderr
    assert not (tmp_path / "d.svg").exists()


# --- 23: runaway resources ------------------------------------------------------------------


def test_an_overloaded_team_stops_with_a_message(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import salesproc.sim.engine as engine

    monkeypatch.setattr(engine, "MAX_OPEN_DEALS", 2_000)  # the real bound is a million
    path = tmp_path / "flood.yaml"
    path.write_text("""
salesproc: 1
name: Flood
roles: {rep: {title: Rep, headcount: 1}}
stages:
  - {id: call, name: Call, owner: rep, work: 1, next: {won: 0.5}}
buyer_types: {b: {name: B, share: 1, value: 1}}
arrivals: {rate: 10000}
""")
    result = run("simulate", str(path), "-r", "1", "-w", "1", "--horizon", "365")
    kind(result, 1, "more than 2,000 deals are open at once")
    assert "warning: role 'rep' is offered" in result.output


def test_the_lead_cap_counts_every_variant_of_a_command(process: Path) -> None:
    # each run alone is under the cap; the 20 variants together are not
    variants = [f"stages.demo.work={1 + i / 100}" for i in range(19)]
    result = run("sweep", str(process), "--set", "stages.demo.work=" + ",".join(
        v.split("=")[1] for v in ["x=1", *variants]), "-r", "300", "--horizon", "3000")
    kind(result, 1, "these runs would simulate about")


def test_a_huge_event_log_is_announced(process: Path, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import salesproc.core.defaults

    monkeypatch.setattr(salesproc.core.defaults, "EVENT_LOG_WARNING_BYTES", 1000)
    result = run("simulate", str(process), *FAST, "--events", str(tmp_path / "e.csv"))
    assert result.exit_code == 0
    assert "warning: the event log will hold about" in result.output


# --- 24: signals ----------------------------------------------------------------------------

READY = b"salesproc-test: a replication is done\n"
#: `salesproc ARGS` whose parent says on stderr when the first task is back (the
#: progress callback, which a terminal's progress bar gets): from then on the workers and
#: the output file exist and the command is in its loop, so a signal is sent at a known
#: point, not after a guessed sleep
ANNOUNCING = [sys.executable, "-c", f"""
import contextlib, faulthandler, signal, sys
import salesproc.cli as cli
faulthandler.register(signal.SIGUSR1, all_threads=True)  # where it stands, if it hangs
# Ctrl-C as in a terminal's foreground: a command started in the background by a shell
# (the test run itself, say) inherits SIGINT ignored, and rightly keeps ignoring it
signal.signal(signal.SIGINT, signal.default_int_handler)

@contextlib.contextmanager
def announcing():
    told = []
    def done(finished, total):
        if not told:
            told.append(finished)
            sys.stderr.write(f"Ctrl-C: {{signal.getsignal(signal.SIGINT)!r}}\\n")
            sys.stderr.flush()
            sys.stderr.buffer.write({READY!r})
            sys.stderr.flush()
    yield done

cli.simulate.progress_bar = cli.compare.progress_bar = announcing
cli.main()
"""]


def started(proc: subprocess.Popen[bytes]) -> bytes:
    """What *proc* wrote on stderr up to READY (at most 60 s without a byte: a bound on a
    hang, not a timing)."""
    assert proc.stderr is not None
    said = b""
    while READY not in said:
        readable, _, _ = select.select([proc.stderr], [], [], 60)
        assert readable, f"no replication came back: {said!r}"
        chunk = os.read(proc.stderr.fileno(), 65536)
        assert chunk, f"the command ended before a replication came back: {said!r}"
        said += chunk
    return said


def ended(proc: subprocess.Popen[bytes], said: bytes = b"", timeout: float = 30) -> bytes:
    """What *proc* wrote on stderr until it ended; one still running after *timeout*
    seconds (a bound on a hang, not a timing) fails the test with where each of its
    threads stood (faulthandler, on SIGUSR1), and is killed."""
    try:
        return proc.communicate(timeout=timeout)[1]
    except subprocess.TimeoutExpired:
        masks = [line for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines()
                 if line.startswith(("SigBlk", "SigIgn", "SigCgt", "SigPnd", "ShdPnd"))]
        os.kill(proc.pid, signal.SIGUSR1)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.communicate(timeout=5)
        proc.kill()
        _, stacks = proc.communicate()
        raise AssertionError("the command did not end (" + ", ".join(masks) + "):\n" +
                             (said + stacks).decode("utf-8", "replace")[-6000:]) from None


def children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found.update(int(c) for c in text)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_stops_the_workers_and_leaves_no_files(tmp_path: Path, sig: int,
                                                        code: int) -> None:
    out = tmp_path / "results.json"
    command = [*ANNOUNCING, "compare", str(ROOT / "processes" / "five-step.yaml"),
               "--set", "roles.ae.headcount=5", "-r", "400", "-w", "2", "--format", "json",
               "-o", str(out)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    said = started(proc)  # the pool of 2 is up, 799 replications to go
    workers = children(proc.pid)
    assert len(workers) >= 2, "the worker pool never started"
    os.kill(proc.pid, sig)
    rest = ended(proc, said)  # Ctrl-C used to wait for every replication
    err = (said + rest).decode("utf-8", "replace")
    assert proc.returncode == code, err
    assert "Traceback" not in err
    # the command ends only once its pool has terminated and joined every worker
    assert not any(alive(w) for w in workers), "worker processes outlived the command"
    assert list(tmp_path.iterdir()) == []  # no result, no hidden temporary file


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_workers_end_with_a_parent_killed_outright(tmp_path: Path) -> None:
    """A command killed with SIGKILL (no handler runs, no pool is terminated) leaves no
    worker behind: each ends once its task is done, its pipe closed with the parent.
    The work naps (a task of 0.4 s), so the test costs no CPU."""
    (tmp_path / "napping.py").write_text(
        "import time\n\ndef nap(seconds, item):\n    time.sleep(seconds)\n    return item\n")
    script = f"""
import sys
from napping import nap
from salesproc.core import execution

def told(done, total):
    if done == 1:
        sys.stderr.buffer.write({READY!r})
        sys.stderr.flush()

with execution.session(execution.Place(workers=2)) as session:
    session.run(nap, 0.2, list(range(40)), lambda index, result: None, progress=told)
"""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, start_new_session=True)
    started(proc)  # the first task of one item is back: 2 workers, tasks of 2 items
    workers = children(proc.pid)
    assert len(workers) == 2, workers
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    for _ in range(600):  # a bound on a hang (30 s), not a timing
        if not any(alive(w) for w in workers):
            break
        time.sleep(0.05)
    assert not any(alive(w) for w in workers), "worker processes outlived their parent"


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_sigterm_removes_a_partial_event_log(tmp_path: Path) -> None:
    log = tmp_path / "events.csv"
    proc = subprocess.Popen([*ANNOUNCING, "simulate",
                             str(ROOT / "processes" / "five-step.yaml"), "-r", "2000",
                             "--events", str(log)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    said = started(proc)
    # the log is being written, under a hidden temporary name
    assert [p.name.startswith(".events.csv.") for p in tmp_path.iterdir()] == [True]
    proc.send_signal(signal.SIGTERM)
    rest = ended(proc, said)
    assert proc.returncode == 143, (said + rest).decode("utf-8", "replace")
    assert list(tmp_path.iterdir()) == []


def test_invalid_case_files_are_never_overwritten_by_validate() -> None:
    before = {p: p.read_bytes() for p in (CASES / "invalid").glob("*.yaml")}
    run("validate", str(CASES / "invalid"))
    assert {p: p.read_bytes() for p in before} == before
