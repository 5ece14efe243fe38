from opsview.cli import main

main()
