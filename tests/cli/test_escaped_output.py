"""Attack review of issue 12 (item 5, terminal output): ``say`` escapes every control character except
newline and tab, and the CLI prints input paths raw inside messages. A file name holding a newline (from
a downloaded archive, run through ``fluxds batch dl/* --out o``) makes the error report print a line of
the attacker's choosing, e.g. a fake ``written 1, skipped 0 (exist), failed 0`` summary.
"""

from __future__ import annotations

import subprocess
import sys


def test_a_newline_in_an_input_name_cannot_fake_a_line(tmp_path):
    fake = "written 1, skipped 0 (exist), failed 0"
    downloads = tmp_path / "dl"
    downloads.mkdir()
    (downloads / f"a.fits\n{fake}\nx").write_bytes(b"junk")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "fluxds.cli",
            "batch",
            *map(str, downloads.iterdir()),
            "--out",
            str(tmp_path / "o"),
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert run.returncode == 1
    lines = (run.stdout + run.stderr).splitlines()
    assert fake not in lines, lines
    assert any(line.startswith("fluxds: error:") for line in run.stderr.splitlines())


def test_say_indents_every_line_after_the_first(capsys):
    from fluxds.cli import say

    say("fluxds: error: 2 problems\n  - a\n\nb\x1b[2J", err=True)
    assert capsys.readouterr().err == "fluxds: error: 2 problems\n    - a\n\n  b\\x1b[2J\n"


def test_paths_are_printed_escaped_completely(tmp_path, capsys):
    import shutil

    import fluxds
    from fluxds.cli import main

    fake = "written 1, skipped 0 (exist), failed 0"
    name = tmp_path / f"a\n{fake}\n.fits"
    assert main(["info", str(name)]) == 2  # missing: a usage error naming it
    assert main(["batch", str(name), "--out", str(tmp_path / "o")]) == 2
    shutil.copy(fluxds.demo_path(), name)
    assert main(["info", str(name)]) == 0
    assert main(["convert", str(name), str(tmp_path / f"b\n{fake}\n.nc")]) == 0
    captured = capsys.readouterr()
    lines = (captured.out + captured.err).splitlines()
    assert fake not in [line.strip() for line in lines], lines
    assert any(line.startswith("file:") and "\\x0a" + fake in line for line in lines), lines
