"""Build the libjpeg-turbo coefficient extension (picveil.jpeg._jpegcoef).

System requirement: the libjpeg(-turbo) development headers and library,
e.g. Debian/Ubuntu ``libjpeg-dev`` (libjpeg62-turbo-dev), Fedora
``libjpeg-turbo-devel``, macOS ``brew install jpeg-turbo``.
"""
import numpy
from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "picveil.jpeg._jpegcoef",
            sources=["src/picveil/jpeg/_jpegcoef.c"],
            include_dirs=[numpy.get_include()],
            libraries=["jpeg"],
            extra_compile_args=["-O2"],
        )
    ]
)
