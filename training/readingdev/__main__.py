"""python -m training.readingdev: build the reading development set."""

import sys

from training.readingdev import main

sys.exit(main())
