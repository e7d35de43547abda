"""`python -m fedcost.cli` runs the command line."""
import sys

from fedcost.cli import main

sys.exit(main())
