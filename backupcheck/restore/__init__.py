"""Restore drills: sampling, streamed verification against ground truth, RTO estimates."""
