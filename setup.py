"""Build hook: ship the top-level `grammar/` and `stdlib/` folders inside the wheel.

The repository keeps the one grammar and the DSL stdlib at its top level (they are source, not Python);
the installed package finds them as `triton_dsl/_data/grammar` and `triton_dsl/_data/stdlib`
(see `triton_dsl/resources.py`).
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).parent
DATA_DIRS = {"grammar": "*.lark", "stdlib": "*.triton"}


class BuildPyWithData(build_py):
    def run(self) -> None:
        super().run()
        for folder, pattern in DATA_DIRS.items():
            target = Path(self.build_lib) / "triton_dsl" / "_data" / folder
            target.mkdir(parents=True, exist_ok=True)
            for path in sorted((HERE / folder).glob(pattern)):
                shutil.copy2(path, target / path.name)


setup(cmdclass={"build_py": BuildPyWithData})
