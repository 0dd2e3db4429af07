from edms.cli import main

main()
