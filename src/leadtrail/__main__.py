"""`python -m leadtrail` runs the command line."""

from leadtrail.cli import main

main()
