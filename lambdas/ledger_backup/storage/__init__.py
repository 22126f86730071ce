"""Where backups live and how their bytes move: stores (S3, local), streaming upload/download, read checks."""
