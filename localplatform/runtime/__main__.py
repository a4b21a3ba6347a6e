import sys

from localplatform.runtime.local import main

sys.exit(main())
