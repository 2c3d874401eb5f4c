"""Builds the native library into the wheel.

The library is the repository's own Cargo crate (../../Cargo.toml), built by setuptools-rust
as a plain cdylib (Binding.NoBinding: no PyO3, the Python side is ctypes) and copied into the
package as ``cxoauth/_native.abi3.so``, where ``cxoauth._lib`` finds it. It does not link
against Python, so the wheel is tagged abi3 (cp38-abi3-<platform>): one wheel for every
CPython >= 3.8 on that platform.

Normal builds are cargo ``--release`` with the crate's release profile (LTO, one codegen
unit). CI may speed that up with cargo's own environment variables, e.g.
``CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16``, and keep its
build out of the shared target directory with ``CARGO_TARGET_DIR``.

Why setuptools-rust and not maturin: maturin has no "plain cdylib for ctypes" mode (its
modes are pyo3, cffi, uniffi and bin) and expects the crate beside pyproject.toml, whereas
setuptools-rust's NoBinding builds an existing crate elsewhere in the tree unchanged and
keeps the pure-Python package layout as it is.
"""
import os

from setuptools import setup
from setuptools_rust import Binding, RustExtension, Strip

HERE = os.path.dirname(os.path.abspath(__file__))
MANIFEST = os.path.join(HERE, "..", "..", "Cargo.toml")

setup(
    rust_extensions=[
        RustExtension(
            "cxoauth._native",
            path=os.path.relpath(MANIFEST),
            binding=Binding.NoBinding,
            strip=Strip.All,  # the dynamic symbol table (oauth_*) stays
        )
    ],
    options={"bdist_wheel": {"py_limited_api": "cp38"}},
    zip_safe=False,
)
