"""The data: MNIST from local files, the committed evaluation sets and their generators, the renderings of real
handwriting, the synthetic lines and characters the readers learn from, and the development set (readingdev)."""
