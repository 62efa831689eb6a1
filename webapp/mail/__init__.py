"""The mail domain: parsing, storing, folders and read state; free of request globals."""
