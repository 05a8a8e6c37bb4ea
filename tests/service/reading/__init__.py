"""Tests of service/reading/: the image work and reading geometry."""
