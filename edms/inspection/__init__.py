"""What inspectors use: search, signed-history timelines, the offline-verifiable export package, access logging."""
