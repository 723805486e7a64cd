"""The commands: each runs one backupcheck command and returns model values; none renders or
prints."""
