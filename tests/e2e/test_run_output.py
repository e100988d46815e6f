"""Program output when its reader goes away: `tritonc run prog | head` ends quietly (exit 141)."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

PROGRAM = """
main {
    for i in 0..20000 {
        print(f"line {i}")
    }
}
"""


def test_closed_pipe_stops_the_program_quietly(tmp_path):
    path = tmp_path / "many_lines.triton"
    path.write_text(PROGRAM)
    proc = subprocess.Popen([sys.executable, "-m", "triton_dsl", "run", str(path)], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = proc.stdout.readline()
    proc.stdout.close()  # the reader goes away, like `| head -1`
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141
    assert first == b"line 0\n"
    assert "Traceback" not in stderr and "internal compiler error" not in stderr
