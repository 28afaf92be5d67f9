import sys

from exaudit.cli import main

sys.exit(main())
