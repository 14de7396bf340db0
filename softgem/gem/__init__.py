"""softgem.gem."""
