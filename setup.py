"""Build of the optional C kernel ``imgprivacy._cfit``; everything else is in pyproject.toml.

The extension is optional: where it does not compile (no C compiler, or a compiler that cannot
promise IEEE-754 double arithmetic without contraction, see imgprivacy/_cfit.c), ``pip install``
still succeeds and the fitting uses its numpy code, which gives the same bits.
"""

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

#: format 1 is frozen double arithmetic: no fused multiply-adds, no fast-math reassociation
UNIX_FLAGS = ["-O3", "-ffp-contract=off", "-fno-fast-math", "-fexcess-precision=standard"]
MSVC_FLAGS = ["/O2", "/fp:precise"]


class BuildExt(build_ext):
    """Adds the floating-point flags the compiler in use understands."""

    def build_extensions(self):
        flags = MSVC_FLAGS if self.compiler.compiler_type == "msvc" else UNIX_FLAGS
        for ext in self.extensions:
            ext.extra_compile_args = list(ext.extra_compile_args or []) + flags
        super().build_extensions()


setup(
    ext_modules=[Extension("imgprivacy._cfit", ["imgprivacy/_cfit.c", "imgprivacy/_cfit_mix.c"], depends=["imgprivacy/_cfit.h"], optional=True)],
    cmdclass={"build_ext": BuildExt},
)
