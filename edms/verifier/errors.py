"""The one exception the verifier raises: why an item fails, in words printed after FAIL."""
from __future__ import annotations


class Invalid(ValueError):
    """Why one item fails; the message is shown to the person verifying."""
