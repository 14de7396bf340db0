"""softgem.mm."""
