"""The `file` toolset: importing this module registers read_file, write_file, patch and search_files."""

from __future__ import annotations

from tools import file_patch, file_read, file_search, file_write

__all__ = ["file_patch", "file_read", "file_search", "file_write"]
