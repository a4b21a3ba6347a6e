import sys

from shared.runtime.local import main

sys.exit(main())
