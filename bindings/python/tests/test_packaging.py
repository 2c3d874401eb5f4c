"""The suite runs against the installed package, whose wheel carries the native library."""
import os

import pytest

import cxoauth

from conftest import ROOT

FROM_SOURCE = os.environ.get("CXOAUTH_TEST_FROM_SOURCE") == "1"


@pytest.mark.skipif(FROM_SOURCE, reason="CXOAUTH_TEST_FROM_SOURCE=1")
def test_imported_from_the_installed_package():
    src = os.path.join(ROOT, "bindings", "python")
    assert not os.path.abspath(cxoauth.__file__).startswith(src + os.sep), cxoauth.__file__
    assert "site-packages" in cxoauth.__file__


@pytest.mark.skipif(FROM_SOURCE or "CXOAUTH_LIBRARY" in os.environ,
                    reason="library overridden by CXOAUTH_LIBRARY")
def test_native_library_comes_from_the_package():
    path = cxoauth.library_path()
    pkg = os.path.dirname(os.path.abspath(cxoauth.__file__))
    assert os.path.dirname(path) == pkg and os.path.basename(path).startswith("_native"), path
    assert cxoauth.version() == cxoauth.__version__


def test_typed_marker_is_installed():
    pkg = os.path.dirname(os.path.abspath(cxoauth.__file__))
    assert os.path.exists(os.path.join(pkg, "py.typed"))
