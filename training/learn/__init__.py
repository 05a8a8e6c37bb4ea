"""Learning: the models' architectures and how each is trained (the classifiers, the digit check, /read's line
reader and character model) and fine-tuned on its users' corrections behind a gate."""
