from biper_analysis.cli import main

raise SystemExit(main())
