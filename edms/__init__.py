"""edms: electronic-signature compliant document management for OOS compassionate use."""
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("edms")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"

