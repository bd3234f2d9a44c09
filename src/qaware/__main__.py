import sys

from qaware.cli import main

sys.exit(main())
