"""Regions: boxes in pixels, their snapping to the JPEG MCU grid, and their
decomposition into disjoint MCU rectangles. (Detectors arrive in issue 5.)"""

from .region import Box, McuRect, Region, parse_box, plan_regions

__all__ = ["Box", "McuRect", "Region", "parse_box", "plan_regions"]
