"""custdata: keep a sales team's customer data in order."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("custdata")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0"

from custdata.errors import CustdataError, ExitCode, InvalidValue  # noqa: E402

__all__ = ["__version__", "CustdataError", "ExitCode", "InvalidValue"]
