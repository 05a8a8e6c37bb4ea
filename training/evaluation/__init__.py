"""Measuring: the served models on every yardstick (make evaluate), /read's readers beside the OCR peers, and
the digests that prove a faster preprocessing path changed nothing (prepared)."""
