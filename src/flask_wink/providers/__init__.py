"""Upstream providers: each module holds one upstream's facts, the flow lives in the core."""

from .smile_wink import SMILE_WINK, AccountStatus, SmileWinkProvider

__all__ = ["SMILE_WINK", "AccountStatus", "SmileWinkProvider"]
